using System.Reflection;
using IIP.Native;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// The kernels of kernels/*.cu, JIT-loaded from the PTX embedded in this assembly (build/ptx/sm_XX/&lt;stem&gt;.ptx,
/// resource names "ptx/sm_XX/&lt;stem&gt;.ptx"). The newest architecture not above the device's is used (sm_90 PTX on
/// an H100/H200, sm_80 on an A100 or an sm_86/sm_89 card). One field per entry point, named as the entry point.
/// </summary>
internal sealed class CudaKernelSet : IDisposable
{
    /// <summary>The head sizes (multiples of 16) the fused attention kernel is instantiated for.</summary>
    public static readonly int[] AttentionHeadSizes = [16, 32, 48, 64, 80, 96, 112, 128, 144, 160];

    /// <summary>
    /// Every entry point of every module (one module per kernels/*.cu file), as the PTX declares them. The backend
    /// loads exactly these; a test checks each embedded PTX declares exactly these.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string[]> EntryPoints = new SortedDictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["attention"] = AttentionHeadSizes.Select(d => $"attention_f16_d{d}").ToArray(),
        ["ddim"] = ["ddim_transfer_f16", "guided_ddim_step_f16"],
        ["elementwise"] = ["add_f16", "add_channel_bias_f16", "axpby_f16", "silu_f16", "quick_gelu_f16", "gelu_f16", "geglu_f16",
            "silu_backward_f16", "geglu_backward_f16"],
        ["gemm"] = ["gemm_nt_f16", "gemm_nn_f16", "gemm_tn_f16", "gemm_nt_f16_f32", "gemm_nt_f16_pipelined", "gemm_nn_f16_pipelined",
            "gemm_tn_f16_pipelined", "splitk_reduce_f16"],
        ["conv2d"] = ["conv2d_f16", "conv2d_backward_input_f16", "im2col_f16"],
        ["groupnorm"] = ["group_norm_f16", "group_norm_partial_f16", "group_norm_apply_f16", "group_norm_backward_f16"],
        ["guidance"] = ["guidance_combine_f16", "sum_partials_f32"],
        ["layernorm"] = ["layer_norm_f16", "layer_norm_backward_f16"],
        ["layout"] = ["concat_channels_f16", "concat_channels_backward_f16", "upsample_nearest2x_f16", "upsample_nearest2x_backward_f16",
            "transpose_f16"],
        ["softmax"] = ["softmax_rows_f32_f16", "softmax_backward_rows_f32_f16"],
    };

    public static IEnumerable<string> ModuleNames => EntryPoints.Keys;

    private const string ResourcePrefix = "ptx/sm_";

    private readonly List<CudaModule> _modules = [];

    public int Architecture { get; }

    // elementwise.cu
    public CudaKernel Add { get; }
    public CudaKernel AddChannelBias { get; }
    public CudaKernel Axpby { get; }
    public CudaKernel Silu { get; }
    public CudaKernel QuickGelu { get; }
    public CudaKernel Gelu { get; }
    public CudaKernel Geglu { get; }
    public CudaKernel SiluBackward { get; }
    public CudaKernel GegluBackward { get; }
    // layout.cu
    public CudaKernel ConcatChannels { get; }
    public CudaKernel ConcatChannelsBackward { get; }
    public CudaKernel UpsampleNearest2x { get; }
    public CudaKernel UpsampleNearest2xBackward { get; }
    public CudaKernel Transpose { get; }
    // groupnorm.cu, layernorm.cu
    public CudaKernel GroupNorm { get; }
    public CudaKernel GroupNormPartial { get; }
    public CudaKernel GroupNormApply { get; }
    public CudaKernel GroupNormBackward { get; }
    public CudaKernel LayerNorm { get; }
    public CudaKernel LayerNormBackward { get; }
    // gemm.cu
    public CudaKernel GemmNT { get; }
    public CudaKernel GemmNN { get; }
    public CudaKernel GemmTN { get; }
    public CudaKernel GemmNTFloatOut { get; }

    /// <summary>
    /// The cp.async GEMMs (kernels/gemm.cu *_pipelined, for operands with 16-byte loads), null on a device that cannot give
    /// them <see cref="GemmPipelinedSharedBytes"/> of shared memory per block.
    /// </summary>
    public (CudaKernel NT, CudaKernel NN, CudaKernel TN)? GemmPipelined { get; }

    /// <summary>Dynamic shared memory of the pipelined GEMMs: three stages of a 128 x 40 A and B tile of halves.</summary>
    public const int GemmPipelinedSharedBytes = 3 * 2 * 128 * 40 * 2;
    public CudaKernel SplitKReduce { get; }
    // conv2d.cu
    public CudaKernel Conv2d { get; }
    public CudaKernel Conv2dBackwardInput { get; }
    public CudaKernel Im2col { get; }
    // attention.cu (by padded head size), softmax.cu
    public IReadOnlyDictionary<int, CudaKernel> Attention { get; }
    public CudaKernel SoftmaxRows { get; }
    public CudaKernel SoftmaxBackwardRows { get; }
    // ddim.cu, guidance.cu
    public CudaKernel DdimTransfer { get; }
    public CudaKernel GuidedDdimStep { get; }
    public CudaKernel GuidanceCombine { get; }
    public CudaKernel SumPartials { get; }

    /// <summary>
    /// Dynamic shared memory of the fused attention kernel for padded head size <paramref name="d"/>: a Q tile and two K and
    /// V tiles (the current and the next key block) of 64 rows of d + 8 halves (kernels/attention.cu).
    /// </summary>
    public static int AttentionSharedBytes(int d) => 5 * 64 * (d + 8) * 2;

    public CudaKernelSet(CudaDevice device)
    {
        Architecture = ChooseArchitecture(device.ComputeCapability, AvailableArchitectures())
            ?? throw new InvalidOperationException(MissingPtxMessage(device));
        Dictionary<string, CudaModule> m;
        try
        {
            m = ModuleNames.ToDictionary(name => name, name => Load(device, name));
        }
        catch
        {
            Dispose();  // unload the modules that did load
            throw;
        }
        Add = Get(m, "elementwise", "add_f16");
        AddChannelBias = Get(m, "elementwise", "add_channel_bias_f16");
        Axpby = Get(m, "elementwise", "axpby_f16");
        Silu = Get(m, "elementwise", "silu_f16");
        QuickGelu = Get(m, "elementwise", "quick_gelu_f16");
        Gelu = Get(m, "elementwise", "gelu_f16");
        Geglu = Get(m, "elementwise", "geglu_f16");
        SiluBackward = Get(m, "elementwise", "silu_backward_f16");
        GegluBackward = Get(m, "elementwise", "geglu_backward_f16");
        ConcatChannels = Get(m, "layout", "concat_channels_f16");
        ConcatChannelsBackward = Get(m, "layout", "concat_channels_backward_f16");
        UpsampleNearest2x = Get(m, "layout", "upsample_nearest2x_f16");
        UpsampleNearest2xBackward = Get(m, "layout", "upsample_nearest2x_backward_f16");
        Transpose = Get(m, "layout", "transpose_f16");
        GroupNorm = Get(m, "groupnorm", "group_norm_f16");
        GroupNormPartial = Get(m, "groupnorm", "group_norm_partial_f16");
        GroupNormApply = Get(m, "groupnorm", "group_norm_apply_f16");
        GroupNormBackward = Get(m, "groupnorm", "group_norm_backward_f16");
        LayerNorm = Get(m, "layernorm", "layer_norm_f16");
        LayerNormBackward = Get(m, "layernorm", "layer_norm_backward_f16");
        GemmNT = Get(m, "gemm", "gemm_nt_f16");
        GemmNN = Get(m, "gemm", "gemm_nn_f16");
        GemmTN = Get(m, "gemm", "gemm_tn_f16");
        GemmNTFloatOut = Get(m, "gemm", "gemm_nt_f16_f32");
        if (GemmPipelinedSharedBytes <= device.MaxSharedMemoryPerBlockOptin)
        {
            var pipelined = (NT: Get(m, "gemm", "gemm_nt_f16_pipelined"), NN: Get(m, "gemm", "gemm_nn_f16_pipelined"),
                TN: Get(m, "gemm", "gemm_tn_f16_pipelined"));
            foreach (var kernel in new[] { pipelined.NT, pipelined.NN, pipelined.TN }) kernel.SetMaxDynamicSharedMemory(GemmPipelinedSharedBytes);
            GemmPipelined = pipelined;
        }
        Conv2d = Get(m, "conv2d", "conv2d_f16");
        Conv2dBackwardInput = Get(m, "conv2d", "conv2d_backward_input_f16");
        SplitKReduce = Get(m, "gemm", "splitk_reduce_f16");
        Im2col = Get(m, "conv2d", "im2col_f16");
        SoftmaxRows = Get(m, "softmax", "softmax_rows_f32_f16");
        SoftmaxBackwardRows = Get(m, "softmax", "softmax_backward_rows_f32_f16");
        DdimTransfer = Get(m, "ddim", "ddim_transfer_f16");
        GuidedDdimStep = Get(m, "ddim", "guided_ddim_step_f16");
        GuidanceCombine = Get(m, "guidance", "guidance_combine_f16");
        SumPartials = Get(m, "guidance", "sum_partials_f32");

        var attention = new Dictionary<int, CudaKernel>();
        foreach (int d in AttentionHeadSizes)
        {
            var kernel = Get(m, "attention", $"attention_f16_d{d}");
            int shared = AttentionSharedBytes(d);
            if (shared > 48 * 1024)
            {
                // Above 48 KiB a kernel must opt in; a device that cannot give this much does not get the kernel
                // (that head size then takes the unfused path).
                if (shared > device.MaxSharedMemoryPerBlockOptin) continue;
                kernel.SetMaxDynamicSharedMemory(shared);
            }
            attention[d] = kernel;
        }
        Attention = attention;
    }

    private static CudaKernel Get(Dictionary<string, CudaModule> modules, string module, string entry)
    {
        if (!EntryPoints[module].Contains(entry))
            throw new InvalidOperationException($"{module}.{entry} is not listed in {nameof(CudaKernelSet)}.{nameof(EntryPoints)}");
        return modules[module].GetKernel(entry);
    }

    private CudaModule Load(CudaDevice device, string name)
    {
        string ptx = ReadPtx(Architecture, name) ?? throw new InvalidOperationException(
            $"kernel module '{name}' has no embedded PTX for sm_{Architecture}; rebuild with tools/cuda/build-ptx.sh first");
        var module = CudaModule.LoadPtx(device, ptx, $"{name} (sm_{Architecture})");
        _modules.Add(module);
        return module;
    }

    /// <summary>The architectures with embedded PTX (every module present), ascending.</summary>
    public static int[] AvailableArchitectures()
    {
        var names = EmbeddedPtxNames();
        return names.Select(n => n[ResourcePrefix.Length..n.IndexOf('/', ResourcePrefix.Length)])
            .Distinct()
            .Select(s => int.TryParse(s, out int a) ? a : -1)
            .Where(a => a > 0 && ModuleNames.All(m => names.Contains($"{ResourcePrefix}{a}/{m}.ptx")))
            .Order()
            .ToArray();
    }

    /// <summary>The newest of <paramref name="available"/> not above <paramref name="computeCapability"/> (90 for sm_90).</summary>
    public static int? ChooseArchitecture(int computeCapability, IEnumerable<int> available)
    {
        int best = -1;
        foreach (int a in available)
            if (a <= computeCapability && a > best) best = a;
        return best < 0 ? null : best;
    }

    /// <summary>Resource names of the embedded PTX files ("ptx/sm_80/gemm.ptx", ...).</summary>
    public static string[] EmbeddedPtxNames() =>
        typeof(CudaKernelSet).Assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)
            && n.EndsWith(".ptx", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The PTX text of <paramref name="module"/> for sm_<paramref name="architecture"/>, or null when not embedded.</summary>
    public static string? ReadPtx(int architecture, string module)
    {
        using var stream = typeof(CudaKernelSet).Assembly.GetManifestResourceStream($"{ResourcePrefix}{architecture}/{module}.ptx");
        if (stream is null) return null;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string MissingPtxMessage(CudaDevice device)
    {
        var available = AvailableArchitectures();
        return available.Length == 0
            ? "no CUDA kernels are embedded in IIP.Engine (build/ptx was empty at build time): run tools/cuda/build-ptx.sh, then rebuild"
            : $"the embedded PTX targets sm_{string.Join(", sm_", available)}, none of which runs on {device.Name} (sm_{device.ComputeCapability})";
    }

    public void Dispose()
    {
        foreach (var module in _modules) module.Dispose();
        _modules.Clear();
    }
}
