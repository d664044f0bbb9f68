using System.Reflection;
using IIP.Native;

namespace IIP.Runtime.Backends.Cuda;

/// <summary>
/// The kernels of kernels/*.cu, JIT-loaded from the PTX embedded in this assembly (build/ptx/sm_XX/&lt;stem&gt;.ptx,
/// resource names "ptx/sm_XX/&lt;stem&gt;.ptx"). The newest architecture not above the device's is used (sm_90 PTX on
/// an H100/H200, sm_80 on an A100 or an sm_86/sm_89 card). One field per entry point, named as the entry point.
/// </summary>
internal sealed class CudaKernelSet : IDisposable
{
    /// <summary>One PTX module per kernels/*.cu file.</summary>
    public static readonly string[] ModuleNames =
        ["attention", "ddim", "elementwise", "gemm", "groupnorm", "guidance", "layernorm", "layout", "softmax"];

    /// <summary>The head sizes (multiples of 16) the fused attention kernel is instantiated for.</summary>
    public static readonly int[] AttentionHeadSizes = [16, 32, 48, 64, 80, 96, 112, 128, 144, 160];

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
    public CudaKernel GroupNormBackward { get; }
    public CudaKernel LayerNorm { get; }
    public CudaKernel LayerNormBackward { get; }
    // gemm.cu
    public CudaKernel GemmNT { get; }
    public CudaKernel GemmNN { get; }
    public CudaKernel GemmTN { get; }
    public CudaKernel GemmNTFloatOut { get; }
    public CudaKernel Conv2d { get; }
    public CudaKernel Conv2dBackwardInput { get; }
    // attention.cu (by padded head size), softmax.cu
    public IReadOnlyDictionary<int, CudaKernel> Attention { get; }
    public CudaKernel SoftmaxRows { get; }
    public CudaKernel SoftmaxBackwardRows { get; }
    // ddim.cu, guidance.cu
    public CudaKernel DdimTransfer { get; }
    public CudaKernel GuidedDdimStep { get; }
    public CudaKernel GuidanceCombine { get; }
    public CudaKernel SumPartials { get; }

    /// <summary>Dynamic shared memory of the fused attention kernel for padded head size <paramref name="d"/>.</summary>
    public static int AttentionSharedBytes(int d) => (128 * (d + 8) + 72 * d) * 2;

    public CudaKernelSet(CudaDevice device)
    {
        Architecture = ChooseArchitecture(device.ComputeCapability, AvailableArchitectures())
            ?? throw new InvalidOperationException(MissingPtxMessage(device));
        var m = ModuleNames.ToDictionary(name => name, name => Load(device, name));
        Add = m["elementwise"].GetKernel("add_f16");
        AddChannelBias = m["elementwise"].GetKernel("add_channel_bias_f16");
        Axpby = m["elementwise"].GetKernel("axpby_f16");
        Silu = m["elementwise"].GetKernel("silu_f16");
        QuickGelu = m["elementwise"].GetKernel("quick_gelu_f16");
        Gelu = m["elementwise"].GetKernel("gelu_f16");
        Geglu = m["elementwise"].GetKernel("geglu_f16");
        SiluBackward = m["elementwise"].GetKernel("silu_backward_f16");
        GegluBackward = m["elementwise"].GetKernel("geglu_backward_f16");
        ConcatChannels = m["layout"].GetKernel("concat_channels_f16");
        ConcatChannelsBackward = m["layout"].GetKernel("concat_channels_backward_f16");
        UpsampleNearest2x = m["layout"].GetKernel("upsample_nearest2x_f16");
        UpsampleNearest2xBackward = m["layout"].GetKernel("upsample_nearest2x_backward_f16");
        Transpose = m["layout"].GetKernel("transpose_f16");
        GroupNorm = m["groupnorm"].GetKernel("group_norm_f16");
        GroupNormBackward = m["groupnorm"].GetKernel("group_norm_backward_f16");
        LayerNorm = m["layernorm"].GetKernel("layer_norm_f16");
        LayerNormBackward = m["layernorm"].GetKernel("layer_norm_backward_f16");
        GemmNT = m["gemm"].GetKernel("gemm_nt_f16");
        GemmNN = m["gemm"].GetKernel("gemm_nn_f16");
        GemmTN = m["gemm"].GetKernel("gemm_tn_f16");
        GemmNTFloatOut = m["gemm"].GetKernel("gemm_nt_f16_f32");
        Conv2d = m["gemm"].GetKernel("conv2d_f16");
        Conv2dBackwardInput = m["gemm"].GetKernel("conv2d_backward_input_f16");
        SoftmaxRows = m["softmax"].GetKernel("softmax_rows_f32_f16");
        SoftmaxBackwardRows = m["softmax"].GetKernel("softmax_backward_rows_f32_f16");
        DdimTransfer = m["ddim"].GetKernel("ddim_transfer_f16");
        GuidedDdimStep = m["ddim"].GetKernel("guided_ddim_step_f16");
        GuidanceCombine = m["guidance"].GetKernel("guidance_combine_f16");
        SumPartials = m["guidance"].GetKernel("sum_partials_f32");

        var attention = new Dictionary<int, CudaKernel>();
        foreach (int d in AttentionHeadSizes)
        {
            var kernel = m["attention"].GetKernel($"attention_f16_d{d}");
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
            ? "no CUDA kernels are embedded in IIP.Runtime (build/ptx was empty at build time): run tools/cuda/build-ptx.sh, then rebuild"
            : $"the embedded PTX targets sm_{string.Join(", sm_", available)}, none of which runs on {device.Name} (sm_{device.ComputeCapability})";
    }

    public void Dispose()
    {
        foreach (var module in _modules) module.Dispose();
        _modules.Clear();
    }
}
