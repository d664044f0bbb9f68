using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// Multi-head attention. Forward: the fused flash kernel (kernels/attention.cu) for head sizes up to 160 with
/// d == dv; otherwise (the VAE's single 512-wide head) the score matrix is materialized per head:
/// S = scale Q K^T (fp32), P = softmax(S) (kernels/softmax.cu), Y = P V. Backward: the same materialized path,
///   dV = P^T dY,  dP = dY V^T,  dS = P (dP - rowsum(P dP)),  dQ = scale dS K,  dK = scale dS^T Q
/// (as CpuBackend.BackwardAttention.cs), over as many heads at a time as fit a scratch budget.
/// P and dS are stored in fp16 multiplied by Tk (their typical size is 1 / Tk); the GEMMs that read them divide by Tk.
/// </summary>
public sealed partial class CudaBackend
{
    private const int AttentionQueryBlock = 64, AttentionThreads = 128, SoftmaxThreads = 256;

    /// <summary>Scratch bytes the materialized attention paths may use at once (score and gradient matrices).</summary>
    public long AttentionScratchBudget { get; set; } = 512L << 20;

    public void Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor y)
    {
        // q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv] -> y [B, Tq, Cv]
        CheckAttention(nameof(Attention), q, k, v, heads, causal);
        int bsz = q.Shape[0], tq = q.Shape[1], c = q.Shape[2], tk = k.Shape[1], cv = v.Shape[2];
        Require(nameof(Attention), y.Rank == 3 && y.Shape[0] == bsz && y.Shape[1] == tq && y.Shape[2] == cv, q, k, v, y);
        int d = c / heads, dv = cv / heads;
        if ((long)bsz * tq * cv == 0) return;
        int padded = (d + 15) / 16 * 16;
        if (d == dv && _kernels.Attention.TryGetValue(padded, out var fused))
        {
            bool vec = d % 8 == 0 && c % 8 == 0 && cv % 8 == 0
                && Aligned(Ptr(q), 16) && Aligned(Ptr(k), 16) && Aligned(Ptr(v), 16) && Aligned(Ptr(y), 16);
            float scaleLog2 = (float)(1.0 / Math.Sqrt(d) / Math.Log(2.0));  // log2(e) / sqrt(d)
            var grid = new Dim3((uint)Blocks(tq, AttentionQueryBlock), (uint)(bsz * heads));
            fused.Launch(grid, AttentionThreads, CudaKernelSet.AttentionSharedBytes(padded), Stream,
                Ptr(q), Ptr(k), Ptr(v), Ptr(y), tq, tk, heads, d, c, c, cv, cv, scaleLog2, causal ? 1 : 0, vec ? 1 : 0);
            return;
        }
        MaterializedAttention(q, k, v, heads, causal, y);
    }

    private void MaterializedAttention(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor y)
    {
        int bsz = q.Shape[0], tq = q.Shape[1], c = q.Shape[2], tk = k.Shape[1], cv = v.Shape[2];
        int d = c / heads, dv = cv / heads;
        float scale = 1f / MathF.Sqrt(d);
        long matrix = (long)tq * tk;
        int chunk = HeadsPerChunk(heads, matrix * (4 + 2));
        var (scores, scoresOwner) = Scratch(chunk * matrix * 4);      // S fp32 [chunk, Tq, Tk]
        var (probs, probsOwner) = Scratch(chunk * matrix * 2);        // Tk P fp16 [chunk, Tq, Tk]
        for (int b = 0; b < bsz; b++)
            for (int h0 = 0; h0 < heads; h0 += chunk)
            {
                int hs = Math.Min(chunk, heads - h0);
                var qb = Ptr(q) + ((long)b * tq * c + (long)h0 * d) * 2;
                var kb = Ptr(k) + ((long)b * tk * c + (long)h0 * d) * 2;
                var vb = Ptr(v) + ((long)b * tk * cv + (long)h0 * dv) * 2;
                var yb = Ptr(y) + ((long)b * tq * cv + (long)h0 * dv) * 2;
                // S [Tq, Tk] = scale Q_h K_h^T per head
                Gemm(GemmLayout.NT, tq, tk, d, qb, c, d, kb, c, d, scores, tk, matrix, hs, scale, floatOutput: true);
                Softmax(scores, probs, DevicePointer.Null, DevicePointer.Null, tq, tk, hs, causal, tk);
                // Y_h [Tq, dv] = (1 / Tk) (Tk P) [Tq, Tk] V_h [Tk, dv]
                Gemm(GemmLayout.NN, tq, dv, tk, probs, tk, matrix, vb, cv, dv, yb, cv, dv, hs, 1f / tk);
            }
        ReleaseScratch(scoresOwner);
        ReleaseScratch(probsOwner);
    }

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor dy, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        // q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv], dy [B, Tq, Cv] -> dq like q, dk like k, dv like v
        CheckAttention(nameof(AttentionBackward), q, k, v, heads, causal);
        int bsz = q.Shape[0], tq = q.Shape[1], c = q.Shape[2], tk = k.Shape[1], cv = v.Shape[2];
        bool ok = dy.Rank == 3 && dy.Shape[0] == bsz && dy.Shape[1] == tq && dy.Shape[2] == cv
            && (dq is null || dq.Shape.AsSpan().SequenceEqual(q.Shape))
            && (dk is null || dk.Shape.AsSpan().SequenceEqual(k.Shape))
            && (dv is null || dv.Shape.AsSpan().SequenceEqual(v.Shape));
        Require(nameof(AttentionBackward), ok, [q, k, v, dy, .. new[] { dq, dk, dv }.OfType<Tensor>()]);
        if (dq is null && dk is null && dv is null) return;
        if ((long)bsz * tq * tk == 0)
        {
            // no query or no key: every gradient is zero
            foreach (var t in new[] { dq, dk, dv }) if (t is not null) Stream.Fill(Ptr(t), t.Length * CudaStorage.ElementBytes);
            return;
        }
        int d = c / heads, dvh = cv / heads;
        float scale = 1f / MathF.Sqrt(d), tkScale = tk;
        long matrix = (long)tq * tk;
        int chunk = HeadsPerChunk(heads, matrix * (4 + 4 + 2 + 2));
        var (scores, o1) = Scratch(chunk * matrix * 4);     // S fp32
        var (gradP, o2) = Scratch(chunk * matrix * 4);      // dP fp32
        var (probs, o3) = Scratch(chunk * matrix * 2);      // Tk P fp16
        var (gradS, o4) = Scratch(chunk * matrix * 2);      // Tk dS fp16
        var (rowMax, o5) = Scratch(chunk * (long)tq * 4);
        var (rowSum, o6) = Scratch(chunk * (long)tq * 4);
        for (int b = 0; b < bsz; b++)
            for (int h0 = 0; h0 < heads; h0 += chunk)
            {
                int hs = Math.Min(chunk, heads - h0);
                long qOffset = ((long)b * tq * c + (long)h0 * d) * 2, kOffset = ((long)b * tk * c + (long)h0 * d) * 2;
                long vOffset = ((long)b * tk * cv + (long)h0 * dvh) * 2, yOffset = ((long)b * tq * cv + (long)h0 * dvh) * 2;
                DevicePointer qb = Ptr(q) + qOffset, kb = Ptr(k) + kOffset, vb = Ptr(v) + vOffset, dyb = Ptr(dy) + yOffset;

                // S = scale Q K^T; Tk P = Tk softmax(S), with the row statistics for the gradient
                Gemm(GemmLayout.NT, tq, tk, d, qb, c, d, kb, c, d, scores, tk, matrix, hs, scale, floatOutput: true);
                Softmax(scores, probs, rowMax, rowSum, tq, tk, hs, causal, tkScale);
                // dV_h [Tk, dv] = (1 / Tk) (Tk P)^T [Tk, Tq] dY_h [Tq, dv]; (Tk P) stored [Tq, Tk] is A of TN with M = Tk, K = Tq
                if (dv is not null)
                    Gemm(GemmLayout.TN, tk, dvh, tq, probs, tk, matrix, dyb, cv, dvh, Ptr(dv) + vOffset, cv, dvh, hs, 1f / tk);
                if (dq is null && dk is null) continue;
                // dP [Tq, Tk] = dY_h [Tq, dv] V_h^T; Tk dS = Tk P (dP - rowsum(P dP))
                Gemm(GemmLayout.NT, tq, tk, dvh, dyb, cv, dvh, vb, cv, dvh, gradP, tk, matrix, hs, 1f, floatOutput: true);
                SoftmaxBackward(scores, rowMax, rowSum, gradP, gradS, tq, tk, hs, causal, tkScale);
                // dQ_h [Tq, d] = (scale / Tk) (Tk dS) [Tq, Tk] K_h [Tk, d]
                if (dq is not null)
                    Gemm(GemmLayout.NN, tq, d, tk, gradS, tk, matrix, kb, c, d, Ptr(dq) + qOffset, c, d, hs, scale / tk);
                // dK_h [Tk, d] = (scale / Tk) (Tk dS)^T [Tk, Tq] Q_h [Tq, d]
                if (dk is not null)
                    Gemm(GemmLayout.TN, tk, d, tq, gradS, tk, matrix, qb, c, d, Ptr(dk) + kOffset, c, d, hs, scale / tk);
            }
        ReleaseScratch(o1); ReleaseScratch(o2); ReleaseScratch(o3); ReleaseScratch(o4); ReleaseScratch(o5); ReleaseScratch(o6);
    }

    private void CheckAttention(string op, Tensor q, Tensor k, Tensor v, int heads, bool causal)
    {
        Require(op, q.Rank == 3 && k.Rank == 3 && v.Rank == 3 && heads > 0, q, k, v);
        int bsz = q.Shape[0], tq = q.Shape[1], c = q.Shape[2], tk = k.Shape[1], cv = v.Shape[2];
        Require(op, k.Shape[0] == bsz && v.Shape[0] == bsz && k.Shape[2] == c && v.Shape[1] == tk && c % heads == 0
            && cv % heads == 0 && (!causal || tq == tk) && heads <= 65535 && bsz * heads <= 65535, q, k, v);
        if (tk > 60000)
            throw new ArgumentException($"{op}: {tk} keys; the fp16 probability scaling (by Tk) needs Tk below 60000");
    }

    // How many heads' score matrices fit the scratch budget at once (at least one).
    private int HeadsPerChunk(int heads, long bytesPerHead) =>
        (int)Math.Clamp(AttentionScratchBudget / Math.Max(1, bytesPerHead), 1, heads);

    // scores [heads, Tq, Tk] fp32 -> probs fp16 = outScale * softmax; row statistics [heads, Tq] when not null
    private void Softmax(DevicePointer scores, DevicePointer probs, DevicePointer rowMax, DevicePointer rowSum, int tq, int tk,
        int matrices, bool causal, float outScale) =>
        _kernels.SoftmaxRows.Launch(new Dim3((uint)tq, (uint)matrices), SoftmaxThreads, 0, Stream,
            scores, probs, rowMax, rowSum, tq, tk, causal ? 1 : 0, outScale);

    private void SoftmaxBackward(DevicePointer scores, DevicePointer rowMax, DevicePointer rowSum, DevicePointer gradP,
        DevicePointer gradS, int tq, int tk, int matrices, bool causal, float outScale) =>
        _kernels.SoftmaxBackwardRows.Launch(new Dim3((uint)tq, (uint)matrices), SoftmaxThreads, 0, Stream,
            scores, rowMax, rowSum, gradP, gradS, tq, tk, causal ? 1 : 0, outScale);
}
