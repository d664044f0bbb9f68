using System.Numerics.Tensors;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor y)
    {
        // q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv] -> y [B, Tq, Cv]; head h uses channels [h d, (h + 1) d).
        int bsz = q.Shape[0], tq = q.Shape[1], c = q.Shape[2], tk = k.Shape[1], cv = v.Shape[2];
        Require(nameof(Attention), k.Shape[0] == bsz && v.Shape[0] == bsz && k.Shape[2] == c && v.Shape[1] == tk
            && c % heads == 0 && cv % heads == 0 && y.Shape[0] == bsz && y.Shape[1] == tq && y.Shape[2] == cv
            && (!causal || tq == tk), q, k, v, y);
        int d = c / heads, dv = cv / heads;
        float scale = 1f / MathF.Sqrt(d);
        const int RowBlock = 256;  // query rows per block bound the score buffer to RowBlock x Tk
        var scores = new float[Math.Min(RowBlock, tq) * (long)tk];
        fixed (float* pq = q.Data, pk = k.Data, pv = v.Data, py = y.Data, ps = scores)
        {
            for (int b = 0; b < bsz; b++)
                for (int h = 0; h < heads; h++)
                    for (int r0 = 0; r0 < tq; r0 += RowBlock)
                    {
                        int rows = Math.Min(RowBlock, tq - r0);
                        float* qb = pq + ((long)b * tq + r0) * c + h * d;
                        float* kb = pk + (long)b * tk * c + h * d;
                        float* vb = pv + (long)b * tk * cv + h * dv;
                        float* yb = py + ((long)b * tq + r0) * cv + h * dv;
                        // S [rows, Tk] = scale * Q K^T
                        CpuGemm.Multiply(false, true, rows, tk, d, scale, qb, c, kb, c, 0f, ps, tk);
                        nint sp = (nint)ps;
                        int rowStart = r0;
                        Parallel.For(0, rows, r =>
                        {
                            var row = new Span<float>((float*)sp + (long)r * tk, tk);
                            int valid = causal ? rowStart + r + 1 : tk;
                            var live = row[..valid];
                            float max = TensorPrimitives.Max(live);
                            TensorPrimitives.Subtract(live, max, live);
                            TensorPrimitives.Exp(live, live);
                            float sum = TensorPrimitives.Sum(live);
                            TensorPrimitives.Multiply(live, 1f / sum, live);
                            row[valid..].Clear();
                        });
                        // Y [rows, dv] = S V
                        CpuGemm.Multiply(false, false, rows, dv, tk, 1f, ps, tk, vb, cv, 0f, yb, cv);
                    }
        }
    }
}
