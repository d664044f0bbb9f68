using X86 = System.Runtime.Intrinsics.X86;

namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// One micro-kernel family with its register tile (MR x NR) and cache blocking: KC (depth of a packed block),
/// RowBlock x NC (rows of op(A) x columns of op(B) packed per block, shared by the threads), ItemColumns (the
/// B columns one work item sweeps: KC x ItemColumns stays in L2 while each A panel, MR x KC, stays in L1).
/// Kernels share the contract C[MR, NR or NR / 2] = alpha * A_panel B_panel + beta * C.
/// </summary>
internal sealed unsafe class GemmKernelSet
{
    public required string Name { get; init; }
    public required int VectorBits { get; init; }
    public required int MR { get; init; }
    public required int NR { get; init; }
    public required int KC { get; init; }
    public required int RowBlock { get; init; }
    public required int NC { get; init; }
    public required int ItemColumns { get; init; }
    public required bool IsSupported { get; init; }

    /// <summary>The MR x NR kernel: (kc, A panel [kc, MR], B panel [kc, NR], C, ldc, alpha, beta).</summary>
    public required delegate*<int, float*, float*, float*, int, float, float, void> Full { get; init; }

    /// <summary>The MR x NR/2 kernel over the first half of each packed B row.</summary>
    public required delegate*<int, float*, float*, float*, int, float, float, void> Half { get; init; }

    /// <summary>
    /// Rows of the attention's value panels (V^T) when the value head size is a multiple of it, with
    /// <see cref="ValueKernel"/> (ValueMR x NR); otherwise the attention uses MR and <see cref="Full"/>.
    /// </summary>
    public required int ValueMR { get; init; }

    public required delegate*<int, float*, float*, float*, int, float, float, void> ValueKernel { get; init; }

    public override string ToString() => Name;

    // A panel 12 x 384 x 4 bytes = 18 KiB (L1, 48 KiB on dev-cpu); B panels of one item 384 x 256 x 4 = 384 KiB
    // (L2, 2 MiB on dev-cpu); the packed blocks of A (4096 x 384) and B (384 x 4096), 6 MiB each, are shared by the
    // threads (L3). KC 384 rather than 256 makes K = 320 (the 64x64 level's linear layers) one depth block, so C is
    // written once, and halves the passes over C elsewhere: the SD v1.4 UNet forward ran 7% faster (A/B runs of
    // `bench --part unet` on dev-cpu, 2026-11-28: best 3.89 to 4.62 s against 4.45 to 4.82 s); KC 512 was slower.
    public static readonly GemmKernelSet Avx512 = new()
    {
        Name = "avx512 12x32", VectorBits = 512, MR = GemmKernelsAvx512.MR, NR = GemmKernelsAvx512.NR,
        KC = 384, RowBlock = 4096, NC = 4096, ItemColumns = 256, IsSupported = X86.Avx512F.IsSupported,
        Full = &GemmKernelsAvx512.Full, Half = &GemmKernelsAvx512.Half, ValueMR = 8, ValueKernel = &GemmKernelsAvx512.Rows8,
    };

    public static readonly GemmKernelSet Avx2 = new()
    {
        Name = "avx2-fma 6x16", VectorBits = 256, MR = GemmKernelsAvx2.MR, NR = GemmKernelsAvx2.NR,
        KC = 256, RowBlock = 4096, NC = 4096, ItemColumns = 512, IsSupported = X86.Fma.IsSupported && X86.Avx2.IsSupported,
        Full = &GemmKernelsAvx2.Full, Half = &GemmKernelsAvx2.Half, ValueMR = GemmKernelsAvx2.MR, ValueKernel = &GemmKernelsAvx2.Full,
    };

    public static readonly GemmKernelSet Scalar = new()
    {
        Name = "scalar 4x8", VectorBits = 0, MR = GemmKernelsScalar.MR, NR = GemmKernelsScalar.NR,
        KC = 256, RowBlock = 1024, NC = 1024, ItemColumns = 256, IsSupported = true,
        Full = &GemmKernelsScalar.Full, Half = &GemmKernelsScalar.Half, ValueMR = GemmKernelsScalar.MR, ValueKernel = &GemmKernelsScalar.Full,
    };

    public static IReadOnlyList<GemmKernelSet> All { get; } = [Avx512, Avx2, Scalar];

    /// <summary>The widest family this CPU runs, or the one <see cref="EngineOptions.CpuGemm"/> narrows it to.</summary>
    public static GemmKernelSet Best { get; private set; } = Choose(null);

    /// <summary>Narrows <see cref="Best"/> (avx512, avx2, scalar; null: the widest supported); set before the CPU backend is made.</summary>
    internal static void Use(string? wanted) => Best = Choose(wanted);

    /// <summary>The first supported family whose name starts with <paramref name="wanted"/> (null: the widest supported).</summary>
    internal static GemmKernelSet Choose(string? wanted)
    {
        foreach (var set in All)
            if (set.IsSupported && (string.IsNullOrEmpty(wanted) || set.Name.StartsWith(wanted, StringComparison.OrdinalIgnoreCase)))
                return set;
        return Scalar;
    }
}
