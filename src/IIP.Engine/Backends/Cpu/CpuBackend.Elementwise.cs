using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        Require(nameof(Add), a.Length == b.Length && a.Length == y.Length, a, b, y);
        var ad = a.Data; var bd = b.Data; var yd = y.Data;
        ParallelChunks(yd.Length, (start, len) => TensorPrimitives.Add(ad.AsSpan(start, len), bd.AsSpan(start, len), yd.AsSpan(start, len)));
    }

    public void AddChannelBias(Tensor x, Tensor bias, Tensor y)
    {
        // x [N, C, *spatial], bias [N, C]
        Require(nameof(AddChannelBias), x.Rank >= 2 && x.Length == y.Length, x, bias, y);
        int n = x.Shape[0], c = x.Shape[1];
        Require(nameof(AddChannelBias), bias.Length == (long)n * c, x, bias, y);
        int inner = (int)(x.Length / Math.Max(1L, (long)n * c));
        var xd = x.Data; var yd = y.Data; var bd = bias.Data;
        ForChunks(n * c, inner, nc => TensorPrimitives.Add(xd.AsSpan(nc * inner, inner), bd[nc], yd.AsSpan(nc * inner, inner)));
    }

    public void Axpby(float alpha, Tensor x, float beta, Tensor z, Tensor y)
    {
        Require(nameof(Axpby), x.Length == z.Length && x.Length == y.Length, x, z, y);
        var xd = x.Data; var zd = z.Data; var yd = y.Data;
        if (beta == 0f)
        {
            ParallelChunks(yd.Length, (start, len) => TensorPrimitives.Multiply(xd.AsSpan(start, len), alpha, yd.AsSpan(start, len)));
            return;
        }
        ParallelChunks(yd.Length, (start, len) =>
        {
            // y = alpha x + beta z, element by element (so y may alias x or z)
            fixed (float* px = xd, pz = zd, py = yd)
            {
                int i = start, end = start + len;
                var va = Vector256.Create(alpha); var vb = Vector256.Create(beta);
                for (; i + 8 <= end; i += 8)
                    Vector256.Store(Vector256.FusedMultiplyAdd(va, Vector256.Load(px + i), vb * Vector256.Load(pz + i)), py + i);
                for (; i < end; i++) py[i] = alpha * px[i] + beta * pz[i];
            }
        });
    }

    public void Silu(Tensor x, Tensor y)
    {
        Require(nameof(Silu), x.Length == y.Length, x, y);
        var xd = x.Data; var yd = y.Data;
        ParallelChunks(xd.Length, (start, len) =>
        {
            // silu(x) = x * sigmoid(x)
            var s = xd.AsSpan(start, len); var d = yd.AsSpan(start, len);
            TensorPrimitives.Sigmoid(s, d);
            TensorPrimitives.Multiply(s, d, d);
        });
    }

    public void QuickGelu(Tensor x, Tensor y)
    {
        Require(nameof(QuickGelu), x.Length == y.Length, x, y);
        var xd = x.Data; var yd = y.Data;
        ParallelChunks(xd.Length, (start, len) =>
        {
            // quick_gelu(x) = x * sigmoid(1.702 x)
            var s = xd.AsSpan(start, len); var d = yd.AsSpan(start, len);
            TensorPrimitives.Multiply(s, 1.702f, d);
            TensorPrimitives.Sigmoid(d, d);
            TensorPrimitives.Multiply(s, d, d);
        });
    }

    public void Geglu(Tensor x, Tensor y)
    {
        // x [R, 2D] -> y [R, D]; y = x[:, :D] * gelu(x[:, D:]), exact-form GELU
        int d = y.Dim(-1);
        Require(nameof(Geglu), x.Dim(-1) == 2 * d && x.Length == 2 * y.Length, x, y);
        int rows = (int)(y.Length / d);
        var xd = x.Data; var yd = y.Data;
        ForChunks(rows, 2 * d, r =>
        {
            fixed (float* px = xd, py = yd)
            {
                float* hidden = px + (long)r * 2 * d;
                VectorMath.Geglu(hidden, hidden + d, py + (long)r * d, d);
            }
        });
    }

    /// <summary>Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as torch.nn.functional.gelu.</summary>
    internal static float Gelu(float x) => (float)(0.5 * x * (1.0 + Erf(x * 0.7071067811865476)));

    /// <summary>erf to about 1e-7 absolute (Numerical Recipes erfc Chebyshev fit, in double).</summary>
    internal static double Erf(double x)
    {
        double z = Math.Abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
            + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
            + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? 1.0 - r : r - 1.0;
    }

    /// <summary>Runs body(start, length) over [0, length) in chunks of 64 Ki elements, on all cores when there are several.</summary>
    private static void ParallelChunks(int length, Action<int, int> body)
    {
        const int Chunk = 1 << 16;
        int chunks = (length + Chunk - 1) / Chunk;
        if (chunks <= 1) { if (length > 0) body(0, length); return; }
        Parallel.For(0, chunks, i =>
        {
            int start = i * Chunk;
            body(start, Math.Min(Chunk, length - start));
        });
    }

    /// <summary>Runs body(i) for i in [0, count), each touching about <paramref name="elementsEach"/> elements;
    /// in parallel only when the total is worth a thread hand-off.</summary>
    private static void ForChunks(int count, int elementsEach, Action<int> body)
    {
        if ((long)count * elementsEach < 1 << 15)
            for (int i = 0; i < count; i++) body(i);
        else
            Parallel.For(0, count, body);
    }
}
