using IIP.Engine.Backends;
using IIP.Engine.Backends.Cuda;
using IIP.Engine.Tensors;

namespace IIP.TestSupport.Conformance;

internal static partial class ConformanceCases
{
    private static IEnumerable<ConformanceCase> Backward(CaseShapes shapes)
    {
        IGradientBackend cpu = Cpu;
        bool sd = shapes == CaseShapes.SdV14;
        int[] act = sd ? [2, 320, 64, 64] : [2, 32, 16, 16], up = sd ? [2, 1280, 32, 32] : [2, 64, 8, 8];
        int[] joined = sd ? [2, 960, 32, 32] : [2, 96, 8, 8];
        int rows = sd ? 2048 : 65, hidden = sd ? 2560 : 80, split = sd ? 640 : 64;
        yield return Single($"silu_backward [{Dims(act)}]", "elementwise.cu silu_backward_f16", Pointwise, 6.0 * Tensor.ElementCount(act),
            () => [ConformanceHarness.Normal(50, 3f, act), ConformanceHarness.Normal(51, 1f, act)],
            x => cpu.SiluBackward(x[0], x[1]), (g, x) => g.SiluBackward(x[0], x[1]));
        yield return Single($"geglu_backward [{rows},{2 * hidden}]", "elementwise.cu geglu_backward_f16", Pointwise, 20.0 * rows * hidden,
            () => [ConformanceHarness.Normal(52, 2f, rows, 2 * hidden), ConformanceHarness.Normal(53, 1f, rows, hidden)],
            x => cpu.GegluBackward(x[0], x[1]), (g, x) => g.GegluBackward(x[0], x[1]));
        // the sum of four fp16 values in fp32, rounded once
        yield return Single($"upsample_nearest2x_backward [{Dims(up)}]", "layout.cu upsample_nearest2x_backward_f16", Pointwise, 0,
            () => [ConformanceHarness.Normal(54, 1f, up)],
            x => cpu.UpsampleNearest2xBackward(x[0]), (g, x) => g.UpsampleNearest2xBackward(x[0]));
        // odd sides (2H x 2W - 1): the last column of blocks sums two values, not four
        int[] oddUp = sd ? [2, 1280, 24, 17] : [2, 64, 8, 5];
        yield return Single($"upsample_nearest2x_backward [{Dims(oddUp)}] (odd width)", "layout.cu upsample_nearest2x_backward_f16", Pointwise, 0,
            () => [ConformanceHarness.Normal(59, 1f, oddUp)],
            x => cpu.UpsampleNearest2xBackward(x[0]), (g, x) => g.UpsampleNearest2xBackward(x[0]));
        yield return Single($"concat_channels_backward [{Dims(joined)}] -> {split} (a part)", "layout.cu concat_channels_backward_f16", Movement, 0,
            () => [ConformanceHarness.Normal(55, 1f, joined)],
            x => cpu.ConcatChannelsBackward(x[0], split).Da, (g, x) => g.ConcatChannelsBackward(x[0], split).Da);
        yield return Single($"concat_channels_backward [{Dims(joined)}] -> {joined[1] - split} (b part)", "layout.cu concat_channels_backward_f16",
            Movement, 0,
            () => [ConformanceHarness.Normal(56, 1f, joined)],
            x => cpu.ConcatChannelsBackward(x[0], split).Db, (g, x) => g.ConcatChannelsBackward(x[0], split).Db);

        var linearShapes = sd ? new[] { (8192, 320, 320, "to_out at 64x64"), (2048, 5120, 640, "GEGLU proj at 32x32"), (77, 37, 100, "odd sizes") }
            : new[] { (200, 136, 64, "edge tiles, vector loads"), (50, 37, 1000, "one output tile, K = 37"), (77, 37, 100, "odd sizes") };
        foreach (var (m, n, k, what) in linearShapes)
        {
            // dx [M, K] = dy [M, N] w [N, K]
            yield return Single($"linear_backward_input [{m},{n}] x [{n},{k}] ({what})", "gemm.cu gemm_nn_f16", Product, 2.0 * m * n * k,
                () => [ConformanceHarness.Normal(m + n, 1f, m, n), ConformanceHarness.Normal(k, 1f / MathF.Sqrt(n), n, k)],
                x => cpu.LinearBackwardInput(x[0], x[1]), (g, x) => g.LinearBackwardInput(x[0], x[1]));
        }

        foreach (var (xs, ws, stride, pad, what) in ConvCases(shapes))
        {
            int ho = (xs[2] + pad.Top + pad.Bottom - ws[2]) / stride + 1, wo = (xs[3] + pad.Left + pad.Right - ws[3]) / stride + 1;
            int o = ws[0], okk = o * ws[2] * ws[3];
            bool pointwise = ws[2] == 1 && ws[3] == 1 && stride == 1 && pad == default;
            int seed = xs[1] * 11 + o;
            yield return Single($"conv2d_backward_input {ws[2]}x{ws[3]} s{stride} [{string.Join(",", xs)}] <- {o} ({what})",
                pointwise ? "gemm.cu gemm_tn_f16" : "conv2d.cu conv2d_backward_input_f16", Product, 2.0 * xs[0] * xs[1] * xs[2] * xs[3] * okk,
                () => [ConformanceHarness.Normal(seed, 1f, xs[0], o, ho, wo), ConformanceHarness.Normal(seed + 1, 1f / MathF.Sqrt(okk), ws)],
                t => cpu.Conv2dBackwardInput(t[0], t[1], stride, pad, xs[2], xs[3]),
                (g, t) => g.Conv2dBackwardInput(t[0], t[1], stride, pad, xs[2], xs[3]));
        }

        // Sums over a whole group / row in fp32 (against double), then one fp16 rounding; the gradient subtracts two
        // means from g, which cancels to about 1e-6 of g's scale.
        var norm = new Tolerance(2e-3, 1e-3, "fp16 output rounding; fp32 group sums and mean subtraction (~1e-6)");
        var groupNormShapes = sd ? new[] { (new[] { 2, 320, 64, 64 }, true), (new[] { 2, 1280, 8, 8 }, false) }
            : new[] { (new[] { 2, 64, 16, 16 }, true), (new[] { 2, 128, 4, 4 }, false) };
        foreach (var (shape, silu) in groupNormShapes)
        {
            int c = shape[1];
            yield return Single($"group_norm_backward{(silu ? " + silu" : "")} [{Dims(shape)}]",
                "groupnorm.cu group_norm_backward_f16", norm, 20.0 * Tensor.ElementCount(shape),
                () => [ConformanceHarness.Normal(60 + c, 2f, shape), ConformanceHarness.Around(61 + c, 1f, 0.2f, c),
                    ConformanceHarness.Normal(62 + c, 0.2f, c), ConformanceHarness.Normal(63 + c, 1f, shape)],
                x => cpu.GroupNormBackward(x[0], x[1], x[2], 32, 1e-5f, silu, x[3]),
                (g, x) => g.GroupNormBackward(x[0], x[1], x[2], 32, 1e-5f, silu, x[3]));
        }
        foreach (var (tokens, c) in sd ? new[] { (8192, 320), (154, 768) } : new[] { (130, 320), (154, 768) })
        {
            yield return Single($"layer_norm_backward [{tokens},{c}]", "layernorm.cu layer_norm_backward_f16", norm, 16.0 * tokens * c,
                () => [ConformanceHarness.Around(70 + c, 0.5f, 2f, tokens, c), ConformanceHarness.Around(71 + c, 1f, 0.2f, c),
                    ConformanceHarness.Normal(72 + c, 1f, tokens, c)],
                x => cpu.LayerNormBackward(x[0], x[1], 1e-5f, x[2]), (g, x) => g.LayerNormBackward(x[0], x[1], 1e-5f, x[2]));
        }

        foreach (var c in AttentionBackwardCases(shapes)) yield return c;
    }

    private static IEnumerable<ConformanceCase> AttentionBackwardCases(CaseShapes shapes)
    {
        // P and dS are stored in fp16 (scaled by Tk), each 4.9e-4 relative; every gradient is a sum of Tk (or Tq) such
        // terms with mixed signs, so the error is a few 1e-4 of the gradient's rms, plus the fp16 output rounding.
        var tol = new Tolerance(3e-3, 3e-3, "fp16 P and dS (scaled by Tk) in the gradient products, fp16 outputs");
        var attentionShapes = shapes == CaseShapes.SdV14
            ? new[]
            {
                (4096, 4096, 320, 8, false, "self-attention at 64x64, d 40"),
                (4096, 77, 320, 8, false, "cross-attention, 77 context tokens"),
                (256, 256, 1280, 8, false, "self-attention at 16x16, d 160"),
                (77, 77, 768, 12, true, "CLIP causal"),
            }
            : new[]
            {
                (200, 130, 80, 2, false, "self-attention, d 40, odd lengths"),
                (130, 77, 80, 2, false, "cross-attention, 77 context tokens"),
                (64, 64, 160, 1, false, "self-attention, d 160"),
                (77, 77, 128, 2, true, "CLIP causal"),
            };
        foreach (var (tq, tk, c, heads, causal, what) in attentionShapes)
        {
            int seed = tq + tk + c;
            Func<Tensor[]> inputs = () => [ConformanceHarness.Normal(seed, 1.5f, 1, tq, c), ConformanceHarness.Normal(seed + 1, 1.5f, 1, tk, c),
                ConformanceHarness.Normal(seed + 2, 1f, 1, tk, c), ConformanceHarness.Normal(seed + 3, 1f, 1, tq, c)];
            string name = $"attention_backward [1,{tq},{c}] x [1,{tk},{c}], {heads} heads{(causal ? ", causal" : "")} ({what})";
            yield return new ConformanceCase(name, "gemm.cu + softmax.cu", (gpu, options) =>
            {
                var x = inputs();
                var (dq, dk, dv) = Cpu.AttentionBackward(x[0], x[1], x[2], heads, causal, x[3]);
                var d = x.Select(gpu.FromHost).ToArray();
                (Tensor Dq, Tensor Dk, Tensor Dv)? gradients = null;
                double ms = ConformanceHarness.RunAndTime(gpu, options, () => gradients = gpu.AttentionBackward(d[0], d[1], d[2], heads, causal, d[3]));
                var r = gradients!.Value;
                return new CaseResult(name, "gemm.cu + softmax.cu", tol,
                [
                    ConformanceHarness.Compare("dq", dq, gpu.ToHost(r.Dq), tol),
                    ConformanceHarness.Compare("dk", dk, gpu.ToHost(r.Dk), tol),
                    ConformanceHarness.Compare("dv", dv, gpu.ToHost(r.Dv), tol),
                ], ms, 8.0 * tq * tk * c);
            });
        }
    }
}
