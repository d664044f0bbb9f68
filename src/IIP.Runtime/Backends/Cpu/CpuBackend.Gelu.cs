using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void Gelu(Tensor x, Tensor y)
    {
        Require(nameof(Gelu), x.Length == y.Length, x, y);
        var xd = x.Data; var yd = y.Data;
        Parallel.For(0, (int)((x.Length + 4095) / 4096), chunk =>
        {
            long end = Math.Min(x.Length, (chunk + 1) * 4096L);
            for (long i = chunk * 4096L; i < end; i++) yd[i] = Gelu(xd[i]);
        });
    }
}
