using System.Numerics.Tensors;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

/// <summary>
/// The fp32 reference backend: readable, SIMD through TensorPrimitives, multithreaded through Parallel.For.
/// Ops with more than a few lines live in their own partial file (CpuBackend.Conv2d.cs, ...).
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    public static CpuBackend Instance { get; } = new();

    public string Name => "cpu";

    public Tensor Allocate(params int[] shape) => new(shape);

    public Tensor FromHost(Tensor host) => host;

    public Tensor ToHost(Tensor tensor) => tensor;

    public void Linear(Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        // x [M, K], w [N, K] -> y [M, N]
        int m = x.Shape[0], k = x.Shape[1], n = w.Shape[0];
        Require(nameof(Linear), x.Rank == 2 && w.Rank == 2 && w.Shape[1] == k && y.Shape[0] == m && y.Shape[1] == n
            && (b is null || b.Length == n), x, w, y);
        fixed (float* px = x.Data, pw = w.Data, py = y.Data)
            CpuGemm.Multiply(false, true, m, n, k, 1f, px, k, pw, k, 0f, py, n);
        if (b is not null)
        {
            var yd = y.Data; var bd = b.Data;
            Parallel.For(0, m, i => TensorPrimitives.Add(yd.AsSpan(i * n, n), bd, yd.AsSpan(i * n, n)));
        }
    }

    public void Add(Tensor a, Tensor b, Tensor y)
    {
        Require(nameof(Add), a.Length == b.Length && a.Length == y.Length, a, b, y);
        TensorPrimitives.Add(a.Data, b.Data, y.Data);
    }

    public void AddChannelBias(Tensor x, Tensor bias, Tensor y)
    {
        // x [N, C, *spatial], bias [N, C]
        int n = x.Shape[0], c = x.Shape[1];
        Require(nameof(AddChannelBias), bias.Length == (long)n * c && x.Length == y.Length, x, bias, y);
        int inner = (int)(x.Length / ((long)n * c));
        var xd = x.Data; var yd = y.Data; var bd = bias.Data;
        Parallel.For(0, n * c, nc => TensorPrimitives.Add(xd.AsSpan(nc * inner, inner), bd[nc], yd.AsSpan(nc * inner, inner)));
    }

    public void Axpby(float alpha, Tensor x, float beta, Tensor z, Tensor y)
    {
        Require(nameof(Axpby), x.Length == z.Length && x.Length == y.Length, x, z, y);
        var xd = x.Data; var zd = z.Data; var yd = y.Data;
        if (beta == 0f) { TensorPrimitives.Multiply(xd, alpha, yd); return; }
        for (long i = 0; i < yd.LongLength; i++) yd[i] = alpha * xd[i] + beta * zd[i];
    }

    public void Silu(Tensor x, Tensor y)
    {
        Require(nameof(Silu), x.Length == y.Length, x, y);
        ParallelChunks(x.Data, y.Data, static (s, d) =>
        {
            // silu(x) = x * sigmoid(x)
            TensorPrimitives.Sigmoid(s, d);
            TensorPrimitives.Multiply(s, d, d);
        });
    }

    public void QuickGelu(Tensor x, Tensor y)
    {
        Require(nameof(QuickGelu), x.Length == y.Length, x, y);
        ParallelChunks(x.Data, y.Data, static (s, d) =>
        {
            // quick_gelu(x) = x * sigmoid(1.702 x)
            TensorPrimitives.Multiply(s, 1.702f, d);
            TensorPrimitives.Sigmoid(d, d);
            TensorPrimitives.Multiply(s, d, d);
        });
    }

    public void Geglu(Tensor x, Tensor y)
    {
        // x [R, 2D] -> y [R, D]; y = x[:, :D] * gelu(x[:, D:])
        int d = y.Dim(-1);
        Require(nameof(Geglu), x.Dim(-1) == 2 * d && x.Length == 2 * y.Length, x, y);
        int rows = (int)(y.Length / d);
        var xd = x.Data; var yd = y.Data;
        Parallel.For(0, rows, r =>
        {
            var hidden = xd.AsSpan(r * 2 * d, d);
            var gate = xd.AsSpan(r * 2 * d + d, d);
            var dst = yd.AsSpan(r * d, d);
            for (int i = 0; i < d; i++) dst[i] = hidden[i] * Gelu(gate[i]);
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

    public void ConcatChannels(Tensor a, Tensor b, Tensor y)
    {
        int n = a.Shape[0];
        Require(nameof(ConcatChannels), b.Shape[0] == n && a.Length + b.Length == y.Length
            && a.Shape[2] == b.Shape[2] && a.Shape[3] == b.Shape[3], a, b, y);
        long sa = a.Length / n, sb = b.Length / n;
        for (int i = 0; i < n; i++)
        {
            Array.Copy(a.Data, i * sa, y.Data, i * (sa + sb), sa);
            Array.Copy(b.Data, i * sb, y.Data, i * (sa + sb) + sa, sb);
        }
    }

    public void UpsampleNearest2x(Tensor x, Tensor y)
    {
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        Require(nameof(UpsampleNearest2x), y.Shape[2] == 2 * h && y.Shape[3] == 2 * w && y.Length == 4 * x.Length, x, y);
        var xd = x.Data; var yd = y.Data;
        Parallel.For(0, n * c, nc =>
        {
            for (int i = 0; i < 2 * h; i++)
            {
                int src = nc * h * w + (i / 2) * w, dst = nc * 4 * h * w + i * 2 * w;
                for (int j = 0; j < 2 * w; j++) yd[dst + j] = xd[src + j / 2];
            }
        });
    }

    public void ChannelsToTokens(Tensor x, Tensor y)
    {
        int n = x.Shape[0], c = x.Shape[1], hw = x.Shape[2] * x.Shape[3];
        Require(nameof(ChannelsToTokens), y.Shape[1] == hw && y.Shape[2] == c, x, y);
        Transpose(x.Data, y.Data, n, c, hw);
    }

    public void TokensToChannels(Tensor x, Tensor y)
    {
        int n = x.Shape[0], hw = x.Shape[1], c = x.Shape[2];
        Require(nameof(TokensToChannels), y.Shape[1] == c && (long)y.Shape[2] * y.Shape[3] == hw, x, y);
        Transpose(x.Data, y.Data, n, hw, c);
    }

    // src [n, rows, cols] -> dst [n, cols, rows]
    private static void Transpose(float[] src, float[] dst, int n, int rows, int cols)
    {
        const int Tile = 32;
        int tilesR = (rows + Tile - 1) / Tile;
        Parallel.For(0, n * tilesR, job =>
        {
            int b = job / tilesR, r0 = job % tilesR * Tile, r1 = Math.Min(rows, r0 + Tile);
            long bs = (long)b * rows * cols;
            for (int c0 = 0; c0 < cols; c0 += Tile)
            {
                int c1 = Math.Min(cols, c0 + Tile);
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                        dst[bs + (long)c * rows + r] = src[bs + (long)r * cols + c];
            }
        });
    }

    private delegate void SpanMap(ReadOnlySpan<float> src, Span<float> dst);

    private static void ParallelChunks(float[] src, float[] dst, SpanMap map)
    {
        const int Chunk = 1 << 16;
        int chunks = (int)((src.LongLength + Chunk - 1) / Chunk);
        Parallel.For(0, chunks, i =>
        {
            int start = i * Chunk, len = (int)Math.Min(Chunk, src.LongLength - start);
            map(src.AsSpan(start, len), dst.AsSpan(start, len));
        });
    }

    internal static void Require(string op, bool ok, params Tensor[] tensors)
    {
        if (!ok)
            throw new ArgumentException($"{op}: incompatible shapes " + string.Join(", ", tensors.Select(t => $"[{t.ShapeText}]")));
    }
}
