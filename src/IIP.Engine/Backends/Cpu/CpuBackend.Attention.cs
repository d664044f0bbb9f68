using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using IIP.Engine.Backends.Cpu.Gemm;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// softmax(q k^T / sqrt(d)) v per head, on the GEMM micro-kernels directly. Per (batch, head), K is packed
    /// once as MR-row panels and V^T as MR-row panels over all keys. A work item (spread over the cores) is up to
    /// four blocks of NR queries of one head; each block runs over chunks of KeyChunk keys with an online softmax
    /// (Milakov and Gimelshein 2018; the FlashAttention loop), the blocks of an item sharing each chunk:
    /// <code>
    /// S^T [chunk, NR] = K_chunk [chunk, d] Q_blk^T [d, NR] log2(e) / sqrt(d)     key-major: one column per query
    /// m' = max(m, column max of S^T);  P^T = 2^(S^T - m');  l = l 2^(m - m') + column sums of P^T
    /// Y^T [dv, NR]    = Y^T 2^(m - m') + V_chunk^T [dv, chunk] P^T      P^T already is a packed NR-wide B panel
    /// y[q, h dv + i]  = Y^T[i, q] / l[q]
    /// </code>
    /// Scores in base 2 (2^(s log2 e) = e^s, the factor folded into the product's alpha) make each exponential a 2^x,
    /// which takes fewer operations (<see cref="ColumnSoftmax"/>).
    /// A chunk's scores (504 x 32 floats), its K and V^T panels and the items' Y^T stay in L2.
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
        /// <summary>Alpha of the score product: log2(e) / sqrt(d), scores in base 2 (see <see cref="Attention"/>).</summary>
        public float ScoreScale => (float)(1.4426950408889634 / Math.Sqrt(D));
        public int Dv => Cv / Heads;
        public int KeyRowsPadded => RoundUp(Tk, Kernels.MR);
        /// <summary>Rows per value panel: the kernel family's ValueMR when it divides the head size (no padded rows), else MR.</summary>
        public int ValueWidth => Dv % Kernels.ValueMR == 0 ? Kernels.ValueMR : Kernels.MR;
        public int ValueRowsPadded => RoundUp(Dv, ValueWidth);
        public long KeyPanelFloats => (long)KeyRowsPadded * D;      // K_h as MR-row panels, depth d
        public long ValuePanelFloats => (long)ValueRowsPadded * Tk; // V_h^T as ValueWidth-row panels, depth Tk
        public long PackedFloats => (long)Batch * Heads * (KeyPanelFloats + ValuePanelFloats);

        /// <summary>Query panels (NR queries each) per work item: they share every key chunk read from L3.</summary>
        public int QueryPanels => Math.Max(1, Math.Min(4, (Tq + Kernels.NR - 1) / Kernels.NR * Batch * Heads / (8 * Environment.ProcessorCount)));

        public int QueryBlocks => ((Tq + Kernels.NR - 1) / Kernels.NR + QueryPanels - 1) / QueryPanels;

        /// <summary>Keys per online-softmax step, a multiple of MR (504 for the AVX-512 kernels).</summary>
        public int KeyChunk => Math.Max(1, 512 / Kernels.MR) * Kernels.MR;

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
                .Pack(0, plan.Dv, 0, plan.Tk, plan.ValueWidth, PackedValue(pair));
        }

        /// <summary>Work item: QueryPanels blocks of NR queries of one (batch, head), sharing each key chunk.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void QueryBlock(int item)
        {
            var ks = plan.Kernels;
            int nr = ks.NR, d = plan.D, dvPad = plan.ValueRowsPadded, chunk = plan.KeyChunk, panels = plan.QueryPanels;
            int pair = item / plan.QueryBlocks, first = item % plan.QueryBlocks * panels;
            int count = Math.Min(panels, (plan.Tq + nr - 1) / nr - first);
            int b = pair / plan.Heads, h = pair % plan.Heads;

            // Per query panel: Q^T [d, NR], Y^T [dv padded, NR], running max m and sum l [NR]; shared: S^T of a chunk.
            long perPanel = (long)d * nr + (long)dvPad * nr + 2L * nr;
            float* scratch = GemmScratch.Extra(panels * perPanel + (long)chunk * nr + 2L * nr);
            float* scores = scratch + panels * perPanel;
            float* newMax = scores + (long)chunk * nr, chunkSum = newMax + nr;
            for (int p = 0; p < count; p++)
            {
                int q0 = (first + p) * nr, rows = Math.Min(nr, plan.Tq - q0);
                // B operand of S^T: element (i, r) = q[b, q0 + r, h d + i]
                new StridedPanels(q + ((long)b * plan.Tq + q0) * plan.C + h * d, plan.C, depthContiguous: true)
                    .Pack(0, rows, 0, d, nr, scratch + p * perPanel);
            }
            // Causal: keys after the last query of the item are masked for every column; skip them.
            int lastQuery = Math.Min(plan.Tq, (first + count) * nr) - 1;
            int keys = plan.Causal ? Math.Min(plan.Tk, lastQuery + 1) : plan.Tk;
            for (int k0 = 0; k0 < keys; k0 += chunk)
                for (int p = 0; p < count; p++)
                {
                    float* panel = scratch + p * perPanel;
                    int q0 = (first + p) * nr;
                    int panelKeys = plan.Causal ? Math.Min(keys, q0 + nr) : keys;
                    if (k0 < panelKeys)
                        KeyChunk(pair, q0, k0, Math.Min(chunk, panelKeys - k0), panel, panel + (long)d * nr,
                            panel + (long)(d + dvPad) * nr, panel + (long)(d + dvPad + 1) * nr, scores, newMax, chunkSum);
                }
            for (int p = 0; p < count; p++)
            {
                float* panel = scratch + p * perPanel, output = panel + (long)d * nr, sum = panel + (long)(d + dvPad + 1) * nr;
                int q0 = (first + p) * nr;
                WriteRows(output, sum, Math.Min(nr, plan.Tq - q0), y + ((long)b * plan.Tq + q0) * plan.Cv + h * plan.Dv);
            }
        }

        // dst[r * Cv + i] = Y^T[i, r] / l[r] for r < rows, i < dv: 4 x 4 transposes where 4 queries and 4 channels are
        // whole, scalar elsewhere. With few keys (cross-attention: 77) the scalar strided loop took a fifth of the time.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void WriteRows(float* output, float* sum, int rows, float* dst)
        {
            int nr = plan.Kernels.NR, dv = plan.Dv, cv = plan.Cv, r = 0;
            if (Sse.IsSupported)
            {
                for (; r + 4 <= rows; r += 4)
                {
                    var inv = Vector128.Create(1f) / Sse.LoadVector128(sum + r);
                    var (inv0, inv1, inv2, inv3) = (Vector128.Create(inv[0]), Vector128.Create(inv[1]), Vector128.Create(inv[2]), Vector128.Create(inv[3]));
                    float* d0 = dst + (long)r * cv, d1 = d0 + cv, d2 = d1 + cv, d3 = d2 + cv;
                    int i = 0;
                    for (; i + 4 <= dv; i += 4)
                    {
                        float* o = output + (long)i * nr + r;
                        StridedPanels.Transpose4x4(Sse.LoadVector128(o), Sse.LoadVector128(o + nr), Sse.LoadVector128(o + 2 * nr),
                            Sse.LoadVector128(o + 3 * nr), out var y0, out var y1, out var y2, out var y3);  // y_j = Y^T[i.., r + j]
                        Sse.Store(d0 + i, y0 * inv0);
                        Sse.Store(d1 + i, y1 * inv1);
                        Sse.Store(d2 + i, y2 * inv2);
                        Sse.Store(d3 + i, y3 * inv3);
                    }
                    for (; i < dv; i++)
                    {
                        float* o = output + (long)i * nr + r;
                        (d0[i], d1[i], d2[i], d3[i]) = (o[0] * inv[0], o[1] * inv[1], o[2] * inv[2], o[3] * inv[3]);
                    }
                }
            }
            for (; r < rows; r++)
            {
                float inv = 1f / sum[r];
                float* row = dst + (long)r * cv;
                for (int i = 0; i < dv; i++) row[i] = output[(long)i * nr + r] * inv;
            }
        }

        // One online-softmax step of one query panel over keys k0 .. k0 + count - 1.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void KeyChunk(int pair, int q0, int k0, int count, float* qPanel, float* output, float* max, float* sum,
            float* scores, float* newMax, float* chunkSum)
        {
            var ks = plan.Kernels;
            int mr = ks.MR, nr = ks.NR, d = plan.D;
            bool first = k0 == 0;
            float* kp = PackedKey(pair) + (long)k0 * d;
            for (int t = 0; t < count; t += mr)
                ks.Full(d, kp + (long)t * d, qPanel, scores + (long)t * nr, nr, plan.ScoreScale, 0f);
            if (plan.Causal)
            {
                // Query q0 + r sees keys t <= q0 + r.
                for (int t = Math.Max(k0, q0 + 1); t < k0 + count; t++)
                    for (int r = 0; r < Math.Min(nr, t - q0); r++) scores[(long)(t - k0) * nr + r] = float.NegativeInfinity;
            }
            for (int r = 0; r < nr; r++) newMax[r] = first ? float.NegativeInfinity : max[r];
            ColumnSoftmax.RaiseMax(scores, count, nr, newMax);
            ColumnSoftmax.Exp2AndSum(scores, count, nr, newMax, chunkSum);
            if (first)
            {
                for (int r = 0; r < nr; r++) sum[r] = chunkSum[r];
            }
            else
            {
                // Rescale what earlier chunks accumulated to the new maxima: factor 2^(m - m') <= 1.
                for (int r = 0; r < nr; r++)
                {
                    float shift = max[r] - newMax[r];
                    float factor = shift < VectorMath.FlushExponent2 ? 0f : float.Exp2(shift);  // no sub-normal factors
                    sum[r] = sum[r] * factor + chunkSum[r];
                    max[r] = factor;  // the factor row for Y^T below
                }
                ColumnSoftmax.ScaleColumns(output, plan.Dv, nr, max);
            }
            for (int r = 0; r < nr; r++) max[r] = newMax[r];
            // Y^T (+)= V_chunk^T P^T
            int vw = plan.ValueWidth;
            var valueKernel = vw == mr ? ks.Full : ks.ValueKernel;
            float* vp = PackedValue(pair) + (long)k0 * vw;
            for (int i = 0; i < plan.Dv; i += vw)
                valueKernel(count, vp + (long)i * plan.Tk, scores, output + (long)i * nr, nr, 1f, first ? 0f : 1f);
        }
    }
}
