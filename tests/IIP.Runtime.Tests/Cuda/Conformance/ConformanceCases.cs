using IIP.Runtime.Backends;
using IIP.Runtime.Backends.Cpu;
using IIP.Runtime.Backends.Cuda;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Tests.Cuda.Conformance;

/// <summary>One conformance case: a name with the SD v1.4 shape it uses, the kernel it exercises, and its check.</summary>
internal sealed record ConformanceCase(string Name, string Kernel, Func<CudaBackend, ConformanceOptions, CaseResult> Run)
{
    public override string ToString() => Name;
}

/// <summary>
/// Every CUDA op against the CPU reference (<see cref="CpuBackend"/>) on seeded random inputs at real SD v1.4 shapes
/// (channels 320/640/1280, head sizes 40/80/160, 4096 query tokens at a 64x64 latent, 77 context tokens), plus edge
/// shapes (odd sizes, reduction lengths that are not multiples of 8) that take the kernels' scalar paths.
/// The xunit tests (CudaConformanceTests) and tools/gpu-check run the same list.
/// </summary>
internal static partial class ConformanceCases
{
    // Built on first use, not in a static initializer: the case lists read static tolerances declared further down
    // and in the other partial files, which an initializer placed here would see as null (the static field
    // initializers of a partial class run in file and declaration order).
    private static readonly Lazy<IReadOnlyList<ConformanceCase>> Cases = new(() => [.. Elementwise(), .. Layout(), .. Norms(), .. Gemm(),
        .. Attention(), .. Backward(), .. Sampling()]);

    public static IReadOnlyList<ConformanceCase> All => Cases.Value;

    public static ConformanceCase ByName(string name) =>
        All.FirstOrDefault(c => c.Name == name) ?? throw new ArgumentException($"no conformance case named '{name}'");

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

    private static IEnumerable<ConformanceCase> Elementwise()
    {
        int[] act = [2, 320, 64, 64];  // a UNet activation at the 64x64 latent
        long n = 2L * 320 * 64 * 64;
        yield return Single("add [2,320,64,64]", "elementwise.cu add_f16", Pointwise, n,
            () => [ConformanceHarness.Normal(1, 1f, act), ConformanceHarness.Normal(2, 1f, act)],
            x => Cpu.Add(x[0], x[1]), (g, x) => g.Add(x[0], x[1]));
        yield return Single("add_channel_bias [2,320,64,64] + [2,320]", "elementwise.cu add_channel_bias_f16", Pointwise, n,
            () => [ConformanceHarness.Normal(3, 1f, act), ConformanceHarness.Normal(4, 1f, 2, 320)],
            x => Cpu.AddChannelBias(x[0], x[1]), (g, x) => g.AddChannelBias(x[0], x[1]));
        yield return Single("axpby 0.5 x - 1.5 z [2,320,64,64]", "elementwise.cu axpby_f16", Pointwise, 3 * n,
            () => [ConformanceHarness.Normal(5, 1f, act), ConformanceHarness.Normal(6, 1f, act)],
            x => Axpby(Cpu, 0.5f, x[0], -1.5f, x[1]), (g, x) => Axpby(g, 0.5f, x[0], -1.5f, x[1]));
        yield return Single("scale 0.18215 [1,4,64,64] (axpby, beta 0)", "elementwise.cu axpby_f16", Pointwise, 4096 * 4,
            () => [ConformanceHarness.Normal(7, 5f, 1, 4, 64, 64)],
            x => Cpu.Scale(x[0], 0.18215f), (g, x) => g.Scale(x[0], 0.18215f));
        yield return Single("silu [2,320,64,64]", "elementwise.cu silu_f16", Pointwise, 4 * n,
            () => [ConformanceHarness.Normal(8, 3f, act)],
            x => Cpu.Silu(x[0]), (g, x) => g.Silu(x[0]));
        yield return Single("quick_gelu [2,77,3072]", "elementwise.cu quick_gelu_f16", Pointwise, 5 * 2 * 77 * 3072,
            () => [ConformanceHarness.Normal(9, 3f, 2, 77, 3072)],
            x => Cpu.QuickGelu(x[0]), (g, x) => g.QuickGelu(x[0]));
        yield return Single("gelu [2,320,64,64]", "elementwise.cu gelu_f16", Pointwise, 8 * n,
            () => [ConformanceHarness.Normal(10, 3f, act)],
            x => Cpu.Gelu(x[0]), (g, x) => g.Gelu(x[0]));
        yield return Single("geglu [8192,2560] -> [8192,1280]", "elementwise.cu geglu_f16", Pointwise, 8L * 8192 * 1280,
            () => [ConformanceHarness.Normal(11, 2f, 8192, 2560)],
            x => Cpu.Geglu(x[0]), (g, x) => g.Geglu(x[0]));
    }

    private static Tensor Axpby(IBackend be, float alpha, Tensor x, float beta, Tensor z)
    {
        var y = be.Allocate(x.Shape);
        be.Axpby(alpha, x, beta, z, y);
        return y;
    }

    private static IEnumerable<ConformanceCase> Layout()
    {
        yield return Single("concat_channels [2,640,32,32] + [2,320,32,32]", "layout.cu concat_channels_f16", Movement, 0,
            () => [ConformanceHarness.Normal(20, 1f, 2, 640, 32, 32), ConformanceHarness.Normal(21, 1f, 2, 320, 32, 32)],
            x => Cpu.ConcatChannels(x[0], x[1]), (g, x) => g.ConcatChannels(x[0], x[1]));
        yield return Single("upsample_nearest2x [2,1280,16,16]", "layout.cu upsample_nearest2x_f16", Movement, 0,
            () => [ConformanceHarness.Normal(22, 1f, 2, 1280, 16, 16)],
            x => Cpu.UpsampleNearest2x(x[0]), (g, x) => g.UpsampleNearest2x(x[0]));
        yield return Single("channels_to_tokens [2,320,64,64]", "layout.cu transpose_f16", Movement, 0,
            () => [ConformanceHarness.Normal(23, 1f, 2, 320, 64, 64)],
            x => Cpu.ChannelsToTokens(x[0]), (g, x) => g.ChannelsToTokens(x[0]));
        yield return Single("tokens_to_channels [2,4096,320]", "layout.cu transpose_f16", Movement, 0,
            () => [ConformanceHarness.Normal(24, 1f, 2, 4096, 320)],
            x => Cpu.TokensToChannels(x[0], 64, 64),
            (g, x) => g.TokensToChannels(x[0], 64, 64));
        yield return Single("tokens_to_channels odd [3,35,70] -> [3,70,5,7]", "layout.cu transpose_f16", Movement, 0,
            () => [ConformanceHarness.Normal(25, 1f, 3, 35, 70)],
            x => Cpu.TokensToChannels(x[0], 5, 7),
            (g, x) => g.TokensToChannels(x[0], 5, 7));
    }

    private static IEnumerable<ConformanceCase> Norms()
    {
        // fp32 statistics against the reference's double: ~1e-6 relative; the output's fp16 rounding dominates.
        var norm = new Tolerance(1e-3, 2e-4, "fp16 output rounding (4.9e-4 relative) on fp32 statistics (~1e-6)");
        // The first, second and fourth run split into slices on an H200 (CudaBackend.GroupNormSplitCount), the third one
        // block per group; the last splits 5289-element groups in two at element 2644, inside a channel.
        foreach (var (shape, silu, seed) in new[] { (new[] { 2, 320, 64, 64 }, true, 30), (new[] { 2, 640, 32, 32 }, true, 31),
                     (new[] { 2, 1280, 8, 8 }, false, 32), (new[] { 1, 512, 64, 64 }, true, 33), (new[] { 1, 96, 41, 43 }, true, 34) })
        {
            int c = shape[1];
            yield return Single($"group_norm 32 groups{(silu ? " + silu" : "")} [{string.Join(",", shape)}]", "groupnorm.cu group_norm_f16 or group_norm_partial_f16 + group_norm_apply_f16",
                norm, 10.0 * Tensor.ElementCount(shape),
                () => [ConformanceHarness.Normal(seed, 2f, shape), ConformanceHarness.Around(seed + 100, 1f, 0.2f, c),
                    ConformanceHarness.Normal(seed + 200, 0.2f, c)],
                x => Cpu.GroupNorm(x[0], x[1], x[2], 32, 1e-5f, silu),
                (g, x) => g.GroupNorm(x[0], x[1], x[2], 32, 1e-5f, silu));
        }
        foreach (var (rows, c, seed) in new[] { (8192, 320, 40), (154, 768, 41), (512, 1280, 42), (7, 100, 43) })
        {
            yield return Single($"layer_norm [{rows},{c}]", "layernorm.cu layer_norm_f16", norm, 8.0 * rows * c,
                () => [ConformanceHarness.Around(seed, 0.5f, 2f, rows, c), ConformanceHarness.Around(seed + 100, 1f, 0.2f, c),
                    ConformanceHarness.Normal(seed + 200, 0.2f, c)],
                x => Cpu.LayerNorm(x[0], x[1], x[2], 1e-5f),
                (g, x) => g.LayerNorm(x[0], x[1], x[2], 1e-5f));
        }
    }
}
