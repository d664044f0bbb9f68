using System.Numerics.Tensors;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

/// <summary>
/// Input gradients of the small ops. The larger backward ops live in CpuBackend.BackwardConv2d.cs,
/// CpuBackend.BackwardNorms.cs and CpuBackend.BackwardAttention.cs.
/// </summary>
public sealed unsafe partial class CpuBackend : IGradientBackend
{
    public void LinearBackwardInput(Tensor dy, Tensor w, Tensor dx)
    {
        // y = x W^T  =>  dx [M, K] = dy [M, N] W [N, K]
        int m = dy.Shape[0], n = dy.Shape[1], k = w.Shape[1];
        Require(nameof(LinearBackwardInput), dy.Rank == 2 && w.Rank == 2 && w.Shape[0] == n && dx.Rank == 2
            && dx.Shape[0] == m && dx.Shape[1] == k, dy, w, dx);
        fixed (float* pdy = dy.Data, pw = w.Data, pdx = dx.Data)
            CpuGemm.Multiply(false, false, m, k, n, 1f, pdy, n, pw, k, 0f, pdx, k);
    }

    public void SiluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        Require(nameof(SiluBackward), x.Length == dy.Length && x.Length == dx.Length, x, dy, dx);
        var xd = x.Data; var dyd = dy.Data; var dxd = dx.Data;
        const int Chunk = 1 << 14;
        int chunks = (int)((xd.LongLength + Chunk - 1) / Chunk);
        Parallel.For(0, chunks, i =>
        {
            int start = i * Chunk, len = (int)Math.Min(Chunk, xd.LongLength - start);
            var xs = xd.AsSpan(start, len); var g = dyd.AsSpan(start, len); var d = dxd.AsSpan(start, len);
            // silu'(x) = s + x s (1 - s) = s (1 + x (1 - s)), s = sigmoid(x)
            var s = new float[len];
            TensorPrimitives.Sigmoid(xs, s);
            TensorPrimitives.Subtract(1f, s, d);                 // 1 - s
            TensorPrimitives.FusedMultiplyAdd(xs, d, 1f, d);     // 1 + x (1 - s)
            TensorPrimitives.Multiply(d, s, d);
            TensorPrimitives.Multiply(d, g, d);
        });
    }

    public void GegluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        // x [R, 2D] = [hidden | gate], dy [R, D] -> dx [R, 2D]; y = hidden * gelu(gate)
        int d = dy.Dim(-1);
        Require(nameof(GegluBackward), x.Dim(-1) == 2 * d && x.Length == 2 * dy.Length && dx.Length == x.Length, x, dy, dx);
        int rows = (int)(dy.Length / d);
        var xd = x.Data; var dyd = dy.Data; var dxd = dx.Data;
        const double InvSqrt2 = 0.7071067811865476, InvSqrt2Pi = 0.3989422804014327;
        Parallel.For(0, rows, r =>
        {
            var hidden = xd.AsSpan(r * 2 * d, d);
            var gate = xd.AsSpan(r * 2 * d + d, d);
            var g = dyd.AsSpan(r * d, d);
            var dHidden = dxd.AsSpan(r * 2 * d, d);
            var dGate = dxd.AsSpan(r * 2 * d + d, d);
            for (int i = 0; i < d; i++)
            {
                double gv = gate[i];
                double cdf = 0.5 * (1.0 + Erf(gv * InvSqrt2));                     // Phi(g)
                double geluPrime = cdf + gv * InvSqrt2Pi * Math.Exp(-0.5 * gv * gv); // Phi(g) + g phi(g)
                dHidden[i] = g[i] * (float)(gv * cdf);                              // gelu(g) = g Phi(g)
                dGate[i] = (float)(g[i] * hidden[i] * geluPrime);
            }
        });
    }

    public void UpsampleNearest2xBackward(Tensor dy, Tensor dx)
    {
        // dy [N, C, Ho, Wo] (Ho in {2H - 1, 2H}, Wo in {2W - 1, 2W}) -> dx [N, C, H, W]; dx[i, j] = sum of the
        // dy[2i + a, 2j + b], a, b in {0, 1}, inside dy
        int n = dx.Shape[0], c = dx.Shape[1], h = dx.Shape[2], w = dx.Shape[3];
        Require(nameof(UpsampleNearest2xBackward), dy.Rank == 4 && dx.Rank == 4 && dy.Shape[0] == n && dy.Shape[1] == c
            && (dy.Shape[2] == 2 * h || dy.Shape[2] == 2 * h - 1) && (dy.Shape[3] == 2 * w || dy.Shape[3] == 2 * w - 1), dy, dx);
        int ho = dy.Shape[2], wo = dy.Shape[3];
        var dyd = dy.Data; var dxd = dx.Data;
        Parallel.For(0, n * c, nc =>
        {
            long src = (long)nc * ho * wo, dst = (long)nc * h * w;
            for (int i = 0; i < h; i++)
            {
                long top = src + 2L * i * wo;
                bool hasBottom = 2 * i + 1 < ho;
                for (int j = 0; j < w; j++)
                {
                    bool hasRight = 2 * j + 1 < wo;
                    float sum = dyd[top + 2 * j];
                    if (hasRight) sum += dyd[top + 2 * j + 1];
                    if (hasBottom) sum += dyd[top + wo + 2 * j];
                    if (hasBottom && hasRight) sum += dyd[top + wo + 2 * j + 1];
                    dxd[dst + (long)i * w + j] = sum;
                }
            }
        });
    }

    public void ConcatChannelsBackward(Tensor dy, Tensor? da, Tensor? db)
    {
        // dy [N, Ca + Cb, H, W] -> da [N, Ca, H, W], db [N, Cb, H, W]
        if (da is null && db is null) return;
        int n = dy.Shape[0], c = dy.Shape[1], h = dy.Shape[2], w = dy.Shape[3];
        int ca = da?.Shape[1] ?? c - db!.Shape[1], cb = c - ca;
        bool ok = dy.Rank == 4 && ca >= 0 && cb >= 0
            && (da is null || da.Rank == 4 && da.Shape[0] == n && da.Shape[2] == h && da.Shape[3] == w)
            && (db is null || db.Rank == 4 && db.Shape[0] == n && db.Shape[1] == cb && db.Shape[2] == h && db.Shape[3] == w);
        Require(nameof(ConcatChannelsBackward), ok, [dy, .. new[] { da, db }.OfType<Tensor>()]);
        long plane = (long)h * w, sa = ca * plane, sb = cb * plane;
        for (int i = 0; i < n; i++)
        {
            if (da is not null) Array.Copy(dy.Data, i * (sa + sb), da.Data, i * sa, sa);
            if (db is not null) Array.Copy(dy.Data, i * (sa + sb) + sa, db.Data, i * sb, sb);
        }
    }
}
