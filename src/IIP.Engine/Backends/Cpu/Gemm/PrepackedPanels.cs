namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// An operand already in the driver's panel layout over the whole depth K: panel q (outer indices q w .. q w + w - 1,
/// w = MR for A, NR for B) at <c>panels + q w K</c>, element (q w + j, k) at <c>[k w + j]</c>, zero past the outer
/// size; <see cref="StridedPanels.Pack"/> with k0 = 0 and kc = K writes exactly this. Depth block [pc, pc + kc) of a
/// panel is then the contiguous run at <c>panel + pc w</c>, so the kernels read it in place and the driver packs
/// nothing (the CPU backend keeps model weights this way: <see cref="CpuPackedWeights"/>).
/// </summary>
internal readonly unsafe struct PrepackedPanels(float* panels) : IPanelSource
{
    public float* Prepacked => panels;

    public void Pack(int o0, int count, int k0, int kc, int width, float* dst) =>
        throw new InvalidOperationException("prepacked panels are read in place, never packed");
}
