using System.Numerics.Tensors;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void AttentionBackward(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor dy, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        // Per head, with S = scale Q K^T, P = softmax_rows(S), Y = P V (scale = 1 / sqrt(d)):
        //   dV = P^T dY,  dP = dY V^T,  dS = P * (dP - rowsum(P * dP)),  dQ = scale dS K,  dK = scale dS^T Q.
        // P is recomputed per block of query rows (as the forward), so memory stays RowBlock x Tk;
        // dK and dV accumulate over the row blocks.
        // q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv], dy [B, Tq, Cv]; head h uses channels [h d, (h + 1) d).
        int bsz = q.Shape[0], tq = q.Shape[1], c = q.Shape[2], tk = k.Shape[1], cv = v.Shape[2];
        bool ok = q.Rank == 3 && k.Rank == 3 && v.Rank == 3 && dy.Rank == 3 && heads > 0
            && k.Shape[0] == bsz && v.Shape[0] == bsz && k.Shape[2] == c && v.Shape[1] == tk
            && c % heads == 0 && cv % heads == 0 && dy.Shape[0] == bsz && dy.Shape[1] == tq && dy.Shape[2] == cv
            && (!causal || tq == tk)
            && (dq is null || dq.Shape.AsSpan().SequenceEqual(q.Shape))
            && (dk is null || dk.Shape.AsSpan().SequenceEqual(k.Shape))
            && (dv is null || dv.Shape.AsSpan().SequenceEqual(v.Shape));
        Require(nameof(AttentionBackward), ok, [q, k, v, dy, .. new[] { dq, dk, dv }.OfType<Tensor>()]);
        if (dq is null && dk is null && dv is null) return;
        int d = c / heads, dvh = cv / heads;
        float scale = 1f / MathF.Sqrt(d);
        const int RowBlock = 256;  // as the forward: bounds each buffer to RowBlock x Tk
        long bufferLength = Math.Min(RowBlock, tq) * (long)tk;
        var probs = new float[bufferLength];
        var grads = new float[bufferLength];
        fixed (float* pq = q.Data, pk = k.Data, pv = v.Data, pdy = dy.Data, pp = probs, pg = grads,
               pdq = dq?.Data, pdk = dk?.Data, pdv = dv?.Data)
        {
            for (int b = 0; b < bsz; b++)
                for (int h = 0; h < heads; h++)
                    for (int r0 = 0; r0 < tq; r0 += RowBlock)
                    {
                        int rows = Math.Min(RowBlock, tq - r0);
                        long qOffset = ((long)b * tq + r0) * c + h * d, kOffset = (long)b * tk * c + h * d;
                        long vOffset = (long)b * tk * cv + h * dvh, yOffset = ((long)b * tq + r0) * cv + h * dvh;
                        float* qb = pq + qOffset, kb = pk + kOffset, vb = pv + vOffset, dyb = pdy + yOffset;
                        float accumulate = r0 == 0 ? 0f : 1f;  // dK, dV: first row block writes, later ones add

                        // P [rows, Tk] = softmax(scale Q K^T), masked as the forward
                        CpuGemm.Multiply(false, true, rows, tk, d, scale, qb, c, kb, c, 0f, pp, tk);
                        SoftmaxRows(pp, rows, tk, causal, r0);

                        // dV [Tk, dv] += P^T [Tk, rows] dY [rows, dv]
                        if (pdv != null)
                            CpuGemm.Multiply(true, false, tk, dvh, rows, 1f, pp, tk, dyb, cv, accumulate, pdv + vOffset, cv);
                        if (pdq == null && pdk == null) continue;

                        // dP [rows, Tk] = dY [rows, dv] V^T [dv, Tk], then dS = P * (dP - rowsum(P * dP)) in place
                        CpuGemm.Multiply(false, true, rows, tk, dvh, 1f, dyb, cv, vb, cv, 0f, pg, tk);
                        SoftmaxGradientRows(pp, pg, rows, tk);

                        // dQ [rows, d] = scale dS [rows, Tk] K [Tk, d]
                        if (pdq != null)
                            CpuGemm.Multiply(false, false, rows, d, tk, scale, pg, tk, kb, c, 0f, pdq + qOffset, c);
                        // dK [Tk, d] += scale dS^T [Tk, rows] Q [rows, d]
                        if (pdk != null)
                            CpuGemm.Multiply(true, false, tk, d, rows, scale, pg, tk, qb, c, accumulate, pdk + kOffset, c);
                    }
        }
    }

    // s [rows, Tk] scores -> probabilities in place; with causal, row r (query r0 + r) sees keys 0 ..= r0 + r
    // and the rest are zero.
    private static void SoftmaxRows(float* s, int rows, int tk, bool causal, int r0)
    {
        nint sp = (nint)s;
        Parallel.For(0, rows, r =>
        {
            var row = new Span<float>((float*)sp + (long)r * tk, tk);
            int valid = causal ? r0 + r + 1 : tk;
            var live = row[..valid];
            float max = TensorPrimitives.Max(live);
            TensorPrimitives.Subtract(live, max, live);
            VectorMath.FlushNegligibleArguments(live);   // no sub-normal probabilities (see VectorMath.FlushExponent)
            TensorPrimitives.Exp(live, live);
            TensorPrimitives.Multiply(live, 1f / TensorPrimitives.Sum(live), live);
            row[valid..].Clear();
        });
    }

    // p, g [rows, Tk]: g <- p * (g - <p, g>) row by row (the softmax Jacobian-vector product; masked p are 0).
    private static void SoftmaxGradientRows(float* p, float* g, int rows, int tk)
    {
        nint pp = (nint)p, pg = (nint)g;
        Parallel.For(0, rows, r =>
        {
            var prow = new ReadOnlySpan<float>((float*)pp + (long)r * tk, tk);
            var grow = new Span<float>((float*)pg + (long)r * tk, tk);
            float dot = TensorPrimitives.Dot(prow, grow);
            TensorPrimitives.Subtract(grow, dot, grow);
            TensorPrimitives.Multiply(grow, prow, grow);
        });
    }
}
