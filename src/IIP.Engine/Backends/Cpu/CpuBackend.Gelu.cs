using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Gelu(Tensor x, Tensor y)
    {
        // y = 0.5 x (1 + erf(x / sqrt 2)), element by element (y may alias x)
        Require(nameof(Gelu), x.Length == y.Length, x, y);
        var xd = x.Data; var yd = y.Data;
        ParallelChunks(xd.Length, (start, len) =>
        {
            fixed (float* px = xd, py = yd)
            {
                int i = start, end = start + len;
                if (Avx512F.IsSupported)
                    for (; i + 16 <= end; i += 16) Vector512.Store(VectorMath.Gelu(Vector512.Load(px + i)), py + i);
                if (Vector256.IsHardwareAccelerated)
                    for (; i + 8 <= end; i += 8) Vector256.Store(VectorMath.Gelu(Vector256.Load(px + i)), py + i);
                for (; i < end; i++) py[i] = Gelu(px[i]);
            }
        });
    }
}
