using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.TestSupport.Conformance;

internal static partial class ConformanceCases
{
    // A K-term dot product in fp32 (both sides; the order differs: ~sqrt(K) 6e-8 of the terms' scale) rounded once to
    // fp16 (4.9e-4 relative). Outputs near zero by cancellation get the rms-scaled term instead of a relative one.
    private static readonly Tolerance Product = new(1e-3, 1e-3, "fp16 rounding of an fp32-accumulated dot product");

    private static IEnumerable<ConformanceCase> Gemm(CaseShapes shapes)
    {
        // Linear: [tokens, in] x [out, in]^T + bias, weights ~ N(0, 1 / in) so outputs are O(1)
        var linearShapes = shapes == CaseShapes.SdV14
            ? new[]
            {
                (8192, 320, 320, true, "to_out at 64x64, 2 images"), (2048, 640, 5120, true, "GEGLU proj at 32x32"),
                (154, 768, 320, false, "cross-attention to_k, 77 tokens x 2"), (2, 320, 1280, true, "time embedding"),
                (77, 100, 37, true, "odd sizes, K not a multiple of 8"),
                (50, 1000, 37, true, "one output tile: split K, odd N"),
            }
            : new[]
            {
                (200, 64, 136, true, "edge tiles, vector loads"), (154, 96, 40, false, "77 tokens x 2, no bias"),
                (2, 320, 160, true, "time embedding, 2 rows"), (77, 100, 37, true, "odd sizes, K not a multiple of 8"),
                (50, 1000, 37, true, "one output tile: split K, odd N"),
            };
        foreach (var (m, k, n, bias, what) in linearShapes)
        {
            int seed = m + k + n;
            yield return Single($"linear [{m},{k}] x [{n},{k}]^T{(bias ? " + b" : "")} ({what})", "gemm.cu gemm_nt_f16", Product,
                2.0 * m * n * k,
                () => bias
                    ? [ConformanceHarness.Normal(seed, 1f, m, k), ConformanceHarness.Normal(seed + 1, 1f / MathF.Sqrt(k), n, k),
                        ConformanceHarness.Normal(seed + 2, 0.1f, n)]
                    : [ConformanceHarness.Normal(seed, 1f, m, k), ConformanceHarness.Normal(seed + 1, 1f / MathF.Sqrt(k), n, k)],
                x => Cpu.Linear(x[0], x[1], x.Length > 2 ? x[2] : null),
                (g, x) => g.Linear(x[0], x[1], x.Length > 2 ? x[2] : null));
        }

        foreach (var c in ConvCases(shapes))
        {
            var (x, w, stride, pad, what) = c;
            int o = w[0], ckk = w[1] * w[2] * w[3];
            int ho = (x[2] + pad.Top + pad.Bottom - w[2]) / stride + 1, wo = (x[3] + pad.Left + pad.Right - w[3]) / stride + 1;
            bool pointwise = w[2] == 1 && w[3] == 1 && stride == 1 && pad == default;
            int seed = x[1] * 7 + o + x[2];
            yield return Single($"conv2d {w[2]}x{w[3]} s{stride} [{string.Join(",", x)}] -> {o} ({what})",
                pointwise ? "gemm.cu gemm_nn_f16" : "conv2d.cu conv2d_f16", Product, 2.0 * x[0] * o * ho * wo * ckk,
                () => [ConformanceHarness.Normal(seed, 1f, x), ConformanceHarness.Normal(seed + 1, 1f / MathF.Sqrt(ckk), w),
                    ConformanceHarness.Normal(seed + 2, 0.1f, o)],
                t => Cpu.Conv2d(t[0], t[1], t[2], stride, pad), (g, t) => g.Conv2d(t[0], t[1], t[2], stride, pad));
        }
    }

    /// <summary>Convolutions of SD v1.4's UNet and VAE, and edge shapes: (x shape, w shape, stride, padding, what).</summary>
    private static IEnumerable<(int[] X, int[] W, int Stride, Padding2d Pad, string What)> ConvCases(CaseShapes shapes)
    {
        if (shapes == CaseShapes.SdV14)
        {
            yield return ([2, 320, 64, 64], [320, 320, 3, 3], 1, Padding2d.Same(1), "UNet ResNet conv at 64x64");
            yield return ([2, 4, 64, 64], [320, 4, 3, 3], 1, Padding2d.Same(1), "conv_in, K = 36");
            yield return ([1, 640, 32, 32], [640, 640, 3, 3], 2, Padding2d.Same(1), "downsample, stride 2");
            yield return ([2, 1280, 8, 8], [1280, 1280, 3, 3], 1, Padding2d.Same(1), "mid block at 8x8");
            yield return ([2, 640, 32, 32], [320, 640, 1, 1], 1, default, "1x1 shortcut");
            yield return ([1, 128, 64, 64], [128, 128, 3, 3], 2, new Padding2d(0, 0, 1, 1), "VAE encoder downsample, pad right/bottom");
            yield return ([2, 1280, 8, 8], [640, 1280, 1, 1], 1, default, "1x1 at 8x8: split K");
        }
        else
        {
            yield return ([2, 16, 16, 16], [24, 16, 3, 3], 1, Padding2d.Same(1), "3x3, 8-pixel rows, two images");
            yield return ([1, 4, 16, 16], [32, 4, 3, 3], 1, Padding2d.Same(1), "conv_in, K = 36");
            yield return ([1, 16, 16, 16], [16, 16, 3, 3], 2, Padding2d.Same(1), "downsample, stride 2");
            yield return ([1, 64, 8, 8], [64, 64, 3, 3], 1, Padding2d.Same(1), "3x3 at 8x8: split K");
            yield return ([2, 64, 8, 8], [32, 64, 1, 1], 1, default, "1x1 shortcut");
            yield return ([1, 8, 16, 16], [8, 8, 3, 3], 2, new Padding2d(0, 0, 1, 1), "VAE encoder downsample, pad right/bottom");
            yield return ([1, 640, 4, 4], [24, 640, 1, 1], 1, default, "1x1 at 4x4: split K");
        }
        yield return ([1, 3, 17, 19], [5, 3, 3, 3], 1, Padding2d.Same(1), "odd sizes, K = 27");
        yield return ([1, 300, 5, 7], [33, 300, 3, 3], 1, Padding2d.Same(1), "one output tile: split K, odd sizes");
    }

    private static IEnumerable<ConformanceCase> Attention(CaseShapes shapes)
    {
        // fp32 scores and softmax; P rounded to fp16 before P V (4.9e-4 relative per weight) and the output rounded
        // once more: about 1e-3 of the output's scale.
        var tol = new Tolerance(2e-3, 2e-3, "fp16 probabilities in P V (flash) and fp16 output rounding");
        var attentionShapes = shapes == CaseShapes.SdV14
            ? new[]
            {
                (2, 4096, 4096, 320, 8, false, "self-attention at 64x64, d 40"),
                (2, 1024, 1024, 640, 8, false, "self-attention at 32x32, d 80"),
                (2, 256, 256, 1280, 8, false, "self-attention at 16x16, d 160"),
                (2, 4096, 77, 320, 8, false, "cross-attention, 77 context tokens, d 40"),
                (2, 256, 77, 1280, 8, false, "cross-attention at 16x16, d 160"),
                (2, 77, 77, 768, 12, true, "CLIP causal self-attention, d 64"),
                (1, 4096, 4096, 512, 1, false, "VAE mid-block, one head of 512 (materialized path)"),
                (1, 100, 50, 40, 2, false, "odd sizes, d 20 (scalar loads)"),
                (2, 4096, 4096, 320, 5, false, "SD 2.x self-attention at 64x64, d 64"),
                (2, 9216, 77, 320, 5, false, "SD 2.x cross-attention at 96x96 (768-v), d 64"),
            }
            : new[]
            {
                (2, 256, 200, 80, 2, false, "self-attention, d 40, a part-filled key block"),
                (1, 128, 128, 160, 2, false, "self-attention, d 80"),
                (1, 64, 64, 160, 1, false, "self-attention, d 160"),
                (1, 130, 77, 80, 2, false, "cross-attention, 77 context tokens, d 40"),
                (1, 77, 77, 128, 2, true, "CLIP causal self-attention, d 64"),
                (1, 100, 70, 512, 1, false, "one head of 512 (materialized path)"),
                (1, 100, 50, 40, 2, false, "odd sizes, d 20 (scalar loads)"),
                (1, 200, 200, 128, 2, false, "SD 2.x self-attention, d 64, a part-filled key block"),
                (1, 130, 77, 128, 2, false, "SD 2.x cross-attention, 77 context tokens, d 64"),
            };
        foreach (var (b, tq, tk, c, heads, causal, what) in attentionShapes)
        {
            int seed = tq + tk + c + heads;
            // q, k scaled so the logits q.k / sqrt(d) have a spread of a few units, as in a trained model
            yield return Single($"attention [{b},{tq},{c}] x [{b},{tk},{c}], {heads} heads{(causal ? ", causal" : "")} ({what})",
                c / heads <= 160 ? "attention.cu attention_f16_d*" : "gemm.cu + softmax.cu", tol, 4.0 * b * tq * tk * c,
                () => [ConformanceHarness.Normal(seed, 1.5f, b, tq, c), ConformanceHarness.Normal(seed + 1, 1.5f, b, tk, c),
                    ConformanceHarness.Normal(seed + 2, 1f, b, tk, c)],
                x => Cpu.Attention(x[0], x[1], x[2], heads, causal), (g, x) => g.Attention(x[0], x[1], x[2], heads, causal));
        }
    }
}
