using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cuda;
using IIP.Engine.Tensors;

namespace IIP.TestSupport.Conformance;

/// <summary>One conformance case: a name with the SD v1.4 shape it uses, the kernel it exercises, and its check.</summary>
internal sealed record ConformanceCase(string Name, string Kernel, Func<CudaBackend, ConformanceOptions, CaseResult> Run)
{
    public override string ToString() => Name;
}

/// <summary>Which shapes a case list uses.</summary>
internal enum CaseShapes
{
    /// <summary>SD v1.4's own shapes, for a GPU.</summary>
    SdV14,

    /// <summary>
    /// Small shapes that take the same kernel paths (vector and scalar loads, edge tiles, several k tiles and key blocks,
    /// split K and the split group norm as an H200 chooses them, every head-size family), for the kernel emulator.
    /// </summary>
    Small,
}

/// <summary>
/// Every CUDA op against the CPU reference (<see cref="CpuBackend"/>) on seeded random inputs at real SD v1.4 shapes
/// (channels 320/640/1280, head sizes 40/80/160, 4096 query tokens at a 64x64 latent, 77 context tokens), plus edge
/// shapes (odd sizes, reduction lengths that are not multiples of 8) that take the kernels' scalar paths.
/// The xunit tests (CudaConformanceTests) and tools/gpu-check run this list on a GPU; <see cref="Small"/> is the same
/// ops at small shapes for the kernel emulator (tests/IIP.Cuda.EmulatorTests), which runs kernels on the CPU.
/// </summary>
internal static partial class ConformanceCases
{
    // Built on first use, not in a static initializer: the case lists read static tolerances declared further down
    // and in the other partial files, which an initializer placed here would see as null (the static field
    // initializers of a partial class run in file and declaration order).
    private static readonly Lazy<IReadOnlyList<ConformanceCase>> SdV14Cases = new(() => Build(CaseShapes.SdV14));
    private static readonly Lazy<IReadOnlyList<ConformanceCase>> SmallCases = new(() => Build(CaseShapes.Small));

    public static IReadOnlyList<ConformanceCase> All => SdV14Cases.Value;

    public static IReadOnlyList<ConformanceCase> Small => SmallCases.Value;

    public static IReadOnlyList<ConformanceCase> For(CaseShapes shapes) => shapes == CaseShapes.SdV14 ? All : Small;

    public static ConformanceCase ByName(string name, CaseShapes shapes = CaseShapes.SdV14) =>
        For(shapes).FirstOrDefault(c => c.Name == name) ?? throw new ArgumentException($"no conformance case named '{name}'");

    private static IReadOnlyList<ConformanceCase> Build(CaseShapes shapes) =>
        [.. Elementwise(shapes), .. Layout(shapes), .. Norms(shapes), .. Gemm(shapes), .. Attention(shapes), .. Backward(shapes), .. Sampling()];

    private static CpuBackend Cpu => CpuBackend.Instance;

    // fp16 output rounding (2^-11 relative) on fp32 math that matches the reference to ~1e-6.
    private static readonly Tolerance Pointwise = new(1e-3, 1e-4, "one fp16 rounding of an fp32 result (4.9e-4 relative)");

    private static readonly Tolerance Movement = new(0, 0, "data movement: bit-exact");

    /// <summary>A case with one output: run the CPU reference, then the GPU op on the uploaded inputs, compare.</summary>
    private static ConformanceCase Single(string name, string kernel, Tolerance tol, double flops, Func<Tensor[]> inputs,
        Func<Tensor[], Tensor> cpu, Func<CudaBackend, Tensor[], Tensor> gpu)
    {
        ArgumentNullException.ThrowIfNull(tol);  // a tolerance read before its static initializer ran (see Cases)
        return new(name, kernel, (backend, options) =>
        {
            var host = inputs();
            var expected = cpu(host);
            var device = host.Select(backend.FromHost).ToArray();
            Tensor? result = null;
            double ms = ConformanceHarness.RunAndTime(backend, options, () => result = gpu(backend, device));
            var comparison = ConformanceHarness.Compare("y", expected, backend.ToHost(result!), tol);
            return new CaseResult(name, kernel, tol, [comparison], ms, flops);
        });
    }

    private static IEnumerable<ConformanceCase> Elementwise(CaseShapes shapes)
    {
        bool sd = shapes == CaseShapes.SdV14;
        int[] act = sd ? [2, 320, 64, 64] : [2, 32, 16, 16];  // a UNet activation at the 64x64 latent
        int[] latent = sd ? [1, 4, 64, 64] : [1, 4, 13, 11];
        int[] tokens = sd ? [2, 77, 3072] : [2, 77, 96];
        int rows = sd ? 8192 : 65, hidden = sd ? 1280 : 80;
        string a = Dims(act);
        long n = Tensor.ElementCount(act);
        yield return Single($"add [{a}]", "elementwise.cu add_f16", Pointwise, n,
            () => [ConformanceHarness.Normal(1, 1f, act), ConformanceHarness.Normal(2, 1f, act)],
            x => Cpu.Add(x[0], x[1]), (g, x) => g.Add(x[0], x[1]));
        yield return Single($"add_channel_bias [{a}] + [{act[0]},{act[1]}]", "elementwise.cu add_channel_bias_f16", Pointwise, n,
            () => [ConformanceHarness.Normal(3, 1f, act), ConformanceHarness.Normal(4, 1f, act[0], act[1])],
            x => Cpu.AddChannelBias(x[0], x[1]), (g, x) => g.AddChannelBias(x[0], x[1]));
        yield return Single($"axpby 0.5 x - 1.5 z [{a}]", "elementwise.cu axpby_f16", Pointwise, 3 * n,
            () => [ConformanceHarness.Normal(5, 1f, act), ConformanceHarness.Normal(6, 1f, act)],
            x => Axpby(Cpu, 0.5f, x[0], -1.5f, x[1]), (g, x) => Axpby(g, 0.5f, x[0], -1.5f, x[1]));
        yield return Single($"scale 0.18215 [{Dims(latent)}] (axpby, beta 0)", "elementwise.cu axpby_f16", Pointwise, Tensor.ElementCount(latent),
            () => [ConformanceHarness.Normal(7, 5f, latent)],
            x => Cpu.Scale(x[0], 0.18215f), (g, x) => g.Scale(x[0], 0.18215f));
        yield return Single($"silu [{a}]", "elementwise.cu silu_f16", Pointwise, 4 * n,
            () => [ConformanceHarness.Normal(8, 3f, act)],
            x => Cpu.Silu(x[0]), (g, x) => g.Silu(x[0]));
        yield return Single($"quick_gelu [{Dims(tokens)}]", "elementwise.cu quick_gelu_f16", Pointwise, 5.0 * Tensor.ElementCount(tokens),
            () => [ConformanceHarness.Normal(9, 3f, tokens)],
            x => Cpu.QuickGelu(x[0]), (g, x) => g.QuickGelu(x[0]));
        yield return Single($"gelu [{a}]", "elementwise.cu gelu_f16", Pointwise, 8 * n,
            () => [ConformanceHarness.Normal(10, 3f, act)],
            x => Cpu.Gelu(x[0]), (g, x) => g.Gelu(x[0]));
        yield return Single($"geglu [{rows},{2 * hidden}] -> [{rows},{hidden}]", "elementwise.cu geglu_f16", Pointwise, 8.0 * rows * hidden,
            () => [ConformanceHarness.Normal(11, 2f, rows, 2 * hidden)],
            x => Cpu.Geglu(x[0]), (g, x) => g.Geglu(x[0]));

        // lengths that are not multiples of 8: the one-element path of each kernel (the shapes above take 8 at a time)
        int[] odd = [3, 5, 7];
        yield return Single("add odd [3,5,7]", "elementwise.cu add_f16", Pointwise, 105,
            () => [ConformanceHarness.Normal(12, 1f, odd), ConformanceHarness.Normal(13, 1f, odd)],
            x => Cpu.Add(x[0], x[1]), (g, x) => g.Add(x[0], x[1]));
        yield return Single("add_channel_bias odd [3,5,7] + [3,5]", "elementwise.cu add_channel_bias_f16", Pointwise, 105,
            () => [ConformanceHarness.Normal(14, 1f, odd), ConformanceHarness.Normal(15, 1f, 3, 5)],
            x => Cpu.AddChannelBias(x[0], x[1]), (g, x) => g.AddChannelBias(x[0], x[1]));
        yield return Single("silu odd [3,5,7]", "elementwise.cu silu_f16", Pointwise, 420,
            () => [ConformanceHarness.Normal(16, 3f, odd)], x => Cpu.Silu(x[0]), (g, x) => g.Silu(x[0]));
        yield return Single("gelu odd [3,5,7]", "elementwise.cu gelu_f16", Pointwise, 840,
            () => [ConformanceHarness.Normal(17, 3f, odd)], x => Cpu.Gelu(x[0]), (g, x) => g.Gelu(x[0]));
        yield return Single("quick_gelu odd [3,5,7]", "elementwise.cu quick_gelu_f16", Pointwise, 525,
            () => [ConformanceHarness.Normal(18, 3f, odd)], x => Cpu.QuickGelu(x[0]), (g, x) => g.QuickGelu(x[0]));
        yield return Single("geglu odd [5,74] -> [5,37]", "elementwise.cu geglu_f16", Pointwise, 8.0 * 5 * 37,
            () => [ConformanceHarness.Normal(19, 2f, 5, 74)], x => Cpu.Geglu(x[0]), (g, x) => g.Geglu(x[0]));
    }

    /// <summary>"2,320,64,64": a shape as the case names write it.</summary>
    private static string Dims(int[] shape) => string.Join(",", shape);

    private static Tensor Axpby(IBackend be, float alpha, Tensor x, float beta, Tensor z)
    {
        var y = be.Allocate(x.Shape);
        be.Axpby(alpha, x, beta, z, y);
        return y;
    }

    private static IEnumerable<ConformanceCase> Layout(CaseShapes shapes)
    {
        bool sd = shapes == CaseShapes.SdV14;
        int[] wide = sd ? [2, 640, 32, 32] : [2, 64, 8, 8], narrow = sd ? [2, 320, 32, 32] : [2, 32, 8, 8];
        int[] low = sd ? [2, 1280, 16, 16] : [2, 64, 4, 4], act = sd ? [2, 320, 64, 64] : [2, 32, 16, 16];
        int side = act[2], c = act[1], count = side * side;
        yield return Single($"concat_channels [{Dims(wide)}] + [{Dims(narrow)}]", "layout.cu concat_channels_f16", Movement, 0,
            () => [ConformanceHarness.Normal(20, 1f, wide), ConformanceHarness.Normal(21, 1f, narrow)],
            x => Cpu.ConcatChannels(x[0], x[1]), (g, x) => g.ConcatChannels(x[0], x[1]));
        yield return Single($"upsample_nearest2x [{Dims(low)}]", "layout.cu upsample_nearest2x_f16", Movement, 0,
            () => [ConformanceHarness.Normal(22, 1f, low)],
            x => Cpu.UpsampleNearest2x(x[0]), (g, x) => g.UpsampleNearest2x(x[0]));
        // the UNet's up path on a latent with odd sides: the last row (here) and column cut off to the skip's size
        int[] odd = sd ? [2, 1280, 12, 9] : [2, 64, 4, 3];
        yield return Single($"upsample_nearest2x [{Dims(odd)}] -> {2 * odd[2] - 1}x{2 * odd[3]}", "layout.cu upsample_nearest2x_f16", Movement, 0,
            () => [ConformanceHarness.Normal(29, 1f, odd)],
            x => Cpu.UpsampleNearest2x(x[0], 2 * odd[2] - 1, 2 * odd[3]), (g, x) => g.UpsampleNearest2x(x[0], 2 * odd[2] - 1, 2 * odd[3]));
        yield return Single($"channels_to_tokens [{Dims(act)}]", "layout.cu transpose_f16", Movement, 0,
            () => [ConformanceHarness.Normal(23, 1f, act)],
            x => Cpu.ChannelsToTokens(x[0]), (g, x) => g.ChannelsToTokens(x[0]));
        yield return Single($"tokens_to_channels [2,{count},{c}]", "layout.cu transpose_f16", Movement, 0,
            () => [ConformanceHarness.Normal(24, 1f, 2, count, c)],
            x => Cpu.TokensToChannels(x[0], side, side),
            (g, x) => g.TokensToChannels(x[0], side, side));
        yield return Single("tokens_to_channels odd [3,35,70] -> [3,70,5,7]", "layout.cu transpose_f16", Movement, 0,
            () => [ConformanceHarness.Normal(25, 1f, 3, 35, 70)],
            x => Cpu.TokensToChannels(x[0], 5, 7),
            (g, x) => g.TokensToChannels(x[0], 5, 7));
    }

    private static IEnumerable<ConformanceCase> Norms(CaseShapes shapes)
    {
        bool sd = shapes == CaseShapes.SdV14;
        // fp32 statistics against the reference's double: ~1e-6 relative; the output's fp16 rounding dominates.
        var norm = new Tolerance(1e-3, 2e-4, "fp16 output rounding (4.9e-4 relative) on fp32 statistics (~1e-6)");
        // SD v1.4: the first, second and fourth run split into slices on an H200 (CudaBackend.GroupNormSplitCount), the
        // third one block per group. Small: the first and fourth split, the second and third do not. In both lists the last
        // splits 5289-element groups in two at element 2644, inside a channel.
        var groupNormShapes = sd
            ? new[] { (new[] { 2, 320, 64, 64 }, true, 30), (new[] { 2, 640, 32, 32 }, true, 31), (new[] { 2, 1280, 8, 8 }, false, 32),
                (new[] { 1, 512, 64, 64 }, true, 33), (new[] { 1, 96, 41, 43 }, true, 34) }
            : new[] { (new[] { 2, 128, 32, 32 }, true, 30), (new[] { 2, 64, 8, 8 }, true, 31), (new[] { 2, 128, 4, 4 }, false, 32),
                (new[] { 1, 64, 64, 64 }, true, 33), (new[] { 1, 96, 41, 43 }, true, 34) };
        foreach (var (shape, silu, seed) in groupNormShapes)
        {
            int c = shape[1];
            yield return Single($"group_norm 32 groups{(silu ? " + silu" : "")} [{Dims(shape)}]", "groupnorm.cu group_norm_f16 or group_norm_partial_f16 + group_norm_apply_f16",
                norm, 10.0 * Tensor.ElementCount(shape),
                () => [ConformanceHarness.Normal(seed, 2f, shape), ConformanceHarness.Around(seed + 100, 1f, 0.2f, c),
                    ConformanceHarness.Normal(seed + 200, 0.2f, c)],
                x => Cpu.GroupNorm(x[0], x[1], x[2], 32, 1e-5f, silu),
                (g, x) => g.GroupNorm(x[0], x[1], x[2], 32, 1e-5f, silu));
        }
        var layerNormShapes = sd ? new[] { (8192, 320, 40), (154, 768, 41), (512, 1280, 42), (7, 100, 43) }
            : new[] { (130, 320, 40), (154, 768, 41), (9, 1280, 42), (7, 100, 43) };
        foreach (var (rows, c, seed) in layerNormShapes)
        {
            yield return Single($"layer_norm [{rows},{c}]", "layernorm.cu layer_norm_f16", norm, 8.0 * rows * c,
                () => [ConformanceHarness.Around(seed, 0.5f, 2f, rows, c), ConformanceHarness.Around(seed + 100, 1f, 0.2f, c),
                    ConformanceHarness.Normal(seed + 200, 0.2f, c)],
                x => Cpu.LayerNorm(x[0], x[1], x[2], 1e-5f),
                (g, x) => g.LayerNorm(x[0], x[1], x[2], 1e-5f));
        }
    }
}
