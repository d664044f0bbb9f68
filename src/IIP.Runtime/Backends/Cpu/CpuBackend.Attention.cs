using System.Buffers;
using IIP.Runtime.Backends.Cpu.Gemm;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// softmax(q k^T / sqrt(d)) v per head, on the GEMM micro-kernels directly. Per (batch, head), K is packed
    /// once as MR-row panels and V^T as MR-row panels over all keys. Then per block of NR queries (one work item,
    /// spread over the cores):
    /// <code>
    /// S^T [Tk, NR]  = K_h [Tk, d] Q_blk^T [d, NR] / sqrt(d)     key-major: one column per query
    /// P^T           = column softmax of S^T (unnormalised), sums per query
    /// Y^T [dv, NR]  = V_h^T [dv, Tk] P^T [Tk, NR]               P^T already is a packed NR-wide B panel
    /// y[q, h dv + i] = Y^T[i, q] / sum[q]
    /// </code>
    /// S^T of one block (Tk x NR floats: 512 KiB at 4096 keys) stays in L2; nothing of size Tq x Tk is stored.
    /// </summary>
    public void Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor y)
    {
        // q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv] -> y [B, Tq, Cv]; head h uses channels [h d, (h + 1) d).
        Require(nameof(Attention), q.Rank == 3 && k.Rank == 3 && v.Rank == 3 && y.Rank == 3 && heads > 0, q, k, v, y);
        int bsz = q.Shape[0], tq = q.Shape[1], c = q.Shape[2], tk = k.Shape[1], cv = v.Shape[2];
        Require(nameof(Attention), k.Shape[0] == bsz && v.Shape[0] == bsz && k.Shape[2] == c && v.Shape[1] == tk
            && c % heads == 0 && cv % heads == 0 && y.Shape[0] == bsz && y.Shape[1] == tq && y.Shape[2] == cv
            && tk > 0 && (!causal || tq == tk), q, k, v, y);
        if (tq == 0) return;
        var plan = new AttentionPlan(_kernels, bsz, heads, tq, tk, c, cv, causal);
        var packed = ArrayPool<float>.Shared.Rent(checked((int)plan.PackedFloats));
        try
        {
            fixed (float* pq = q.Data, pk = k.Data, pv = v.Data, py = y.Data, pp = packed)
            {
                var job = new AttentionJob(plan, pq, pk, pv, py, pp);
                int pairs = bsz * heads, items = pairs * plan.QueryBlocks;
                if ((long)tq * tk * c < GemmDriver.ParallelMinMacs)
                {
                    for (int pair = 0; pair < pairs; pair++) job.PackHead(pair);
                    for (int item = 0; item < items; item++) job.QueryBlock(item);
                }
                else
                {
                    Parallel.For(0, pairs, job.PackHead);
                    Parallel.For(0, items, job.QueryBlock);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packed);
        }
    }

    private readonly record struct AttentionPlan(GemmKernelSet Kernels, int Batch, int Heads, int Tq, int Tk, int C, int Cv, bool Causal)
    {
        public int D => C / Heads;
        public int Dv => Cv / Heads;
        public int KeyRowsPadded => RoundUp(Tk, Kernels.MR);
        public int ValueRowsPadded => RoundUp(Dv, Kernels.MR);
        public long KeyPanelFloats => (long)KeyRowsPadded * D;      // K_h as MR-row panels, depth d
        public long ValuePanelFloats => (long)ValueRowsPadded * Tk; // V_h^T as MR-row panels, depth Tk
        public long PackedFloats => (long)Batch * Heads * (KeyPanelFloats + ValuePanelFloats);
        public int QueryBlocks => (Tq + Kernels.NR - 1) / Kernels.NR;

        private static int RoundUp(int x, int m) => (x + m - 1) / m * m;
    }

    private sealed class AttentionJob(AttentionPlan plan, float* q, float* k, float* v, float* y, float* packed)
    {
        private float* PackedKey(int pair) => packed + pair * (plan.KeyPanelFloats + plan.ValuePanelFloats);

        private float* PackedValue(int pair) => PackedKey(pair) + plan.KeyPanelFloats;

        public void PackHead(int pair)
        {
            int b = pair / plan.Heads, h = pair % plan.Heads, mr = plan.Kernels.MR;
            // A operand of S^T: element (t, i) = k[b, t, h d + i]
            new StridedPanels(k + (long)b * plan.Tk * plan.C + h * plan.D, plan.C, depthContiguous: true)
                .Pack(0, plan.Tk, 0, plan.D, mr, PackedKey(pair));
            // A operand of Y^T: element (i, t) = v[b, t, h dv + i]
            new StridedPanels(v + (long)b * plan.Tk * plan.Cv + h * plan.Dv, plan.Cv, depthContiguous: false)
                .Pack(0, plan.Dv, 0, plan.Tk, mr, PackedValue(pair));
        }

        public void QueryBlock(int item)
        {
            var ks = plan.Kernels;
            int mr = ks.MR, nr = ks.NR, d = plan.D, dv = plan.Dv, tk = plan.Tk;
            int pair = item / plan.QueryBlocks, q0 = item % plan.QueryBlocks * nr;
            int b = pair / plan.Heads, h = pair % plan.Heads;
            int rows = Math.Min(nr, plan.Tq - q0);
            // Causal: keys after the block's last query are masked for every column; skip them.
            int keys = plan.Causal ? Math.Min(tk, q0 + rows) : tk;

            float* scratch = GemmScratch.Extra((long)d * nr + (long)plan.KeyRowsPadded * nr + (long)plan.ValueRowsPadded * nr + nr);
            float* qPanel = scratch;                                  // [d, NR]
            float* scores = qPanel + (long)d * nr;                    // S^T [Tk padded, NR]
            float* output = scores + (long)plan.KeyRowsPadded * nr;   // Y^T [dv padded, NR]
            float* sums = output + (long)plan.ValueRowsPadded * nr;   // [NR]

            // B operand of S^T: element (i, r) = q[b, q0 + r, h d + i]
            new StridedPanels(q + ((long)b * plan.Tq + q0) * plan.C + h * d, plan.C, depthContiguous: true).Pack(0, rows, 0, d, nr, qPanel);
            float scale = 1f / MathF.Sqrt(d);
            float* kp = PackedKey(pair);
            for (int t = 0; t < keys; t += mr)
                ks.Full(d, kp + (long)t * d, qPanel, scores + (long)t * nr, nr, scale, 0f);

            if (plan.Causal)
            {
                // Query q0 + r sees keys t <= q0 + r.
                for (int t = q0 + 1; t < keys; t++)
                    for (int r = 0; r < Math.Min(rows, t - q0); r++) scores[(long)t * nr + r] = float.NegativeInfinity;
            }
            ColumnSoftmax.Apply(scores, keys, nr, sums);

            float* vp = PackedValue(pair);
            for (int i = 0; i < dv; i += mr)
                ks.Full(keys, vp + (long)i * tk, scores, output + (long)i * nr, nr, 1f, 0f);

            float* dst = y + ((long)b * plan.Tq + q0) * plan.Cv + h * dv;
            for (int r = 0; r < rows; r++, dst += plan.Cv)
            {
                float inv = 1f / sums[r];
                for (int i = 0; i < dv; i++) dst[i] = output[(long)i * nr + r] * inv;
            }
        }
    }
}
