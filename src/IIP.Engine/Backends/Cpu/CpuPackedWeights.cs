using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IIP.Engine.Backends.Cpu.Gemm;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

/// <summary>
/// Model weights (<see cref="Tensor.IsConstant"/>) packed once into the GEMM's panel layout over the whole depth
/// (<see cref="PrepackedPanels"/>) and kept beside the plain copy for as long as the weight tensor lives. A forward then
/// reads each weight once, in the order the kernels want, instead of reading it, writing a packed copy and reading
/// that (three passes over 3.4 GB per SD v1.4 UNet forward, and a transposing pack for every linear layer). It
/// costs one more copy of the weights in memory; EngineOptions.CpuPackedWeights (IIP_CPU_PACKED_WEIGHTS=0) turns it off.
/// </summary>
internal sealed class CpuPackedWeights(GemmKernelSet kernels)
{
    /// <summary>Whether weights are packed in advance (default on; <see cref="EngineOptions.CpuPackedWeights"/>).</summary>
    public static bool Enabled { get; internal set; } = true;

    private readonly ConditionalWeakTable<Tensor, Panels> _asA = new(), _asB = new(), _gegluAsB = new();

    /// <summary>
    /// Rows of w (w [O, K..] seen as [O, K], K the product of the other axes) as MR-row A panels: the conv weight
    /// in y [O, pixels] = w [O, C KH KW] col(x). Null when w is not constant or packing is off.
    /// </summary>
    public unsafe float* RowsAsA(Tensor w) => Get(w, _asA, kernels.MR);

    /// <summary>Rows of w [N, K] as NR-column B panels of w^T: the linear weight in y = x w^T. Null as for <see cref="RowsAsA"/>.</summary>
    public unsafe float* RowsAsB(Tensor w) => Get(w, _asB, kernels.NR);

    /// <summary>
    /// Rows of a GEGLU projection w [2D, K] (hidden features, then their gates) as NR-column B panels in the order
    /// <see cref="GemmGeglu"/> reads: panel j = hidden rows [j h, j h + h) then gate rows [D + j h, D + j h + h),
    /// h = NR / 2. Null as for <see cref="RowsAsA"/>, and when D is not a multiple of h.
    /// </summary>
    public unsafe float* GegluRowsAsB(Tensor w)
    {
        int nr = kernels.NR, h = nr / 2, d = w.Shape[0] / 2;
        if (w.Shape[0] % 2 != 0 || d % h != 0) return null;
        // packed row r = panel r / NR, column t = r % NR: hidden feature (r / NR) h + t, or gate feature D + (r / NR) h + t - h
        return Get(w, _gegluAsB, nr, r => r % nr < h ? r / nr * h + r % nr : d + r / nr * h + r % nr - h);
    }

    private static unsafe float* Get(Tensor w, ConditionalWeakTable<Tensor, Panels> table, int width, Func<int, int>? rowOrder = null)
    {
        if (!Enabled || !w.IsConstant || !w.IsHost) return null;
        return table.GetValue(w, key => new Panels(key, width, rowOrder)).Pointer;
    }

    /// <summary>The panels of one weight in 64-byte aligned native memory, freed when the weight tensor is collected.</summary>
    private sealed unsafe class Panels
    {
        public float* Pointer { get; }
        private readonly long _bytes;

        /// <summary>Packs w's rows, or w's rows in the order rowOrder(packed row) = w row when it is given.</summary>
        public Panels(Tensor w, int width, Func<int, int>? rowOrder)
        {
            int rows = w.Shape[0], depth = (int)(w.Length / rows);
            long floats = (long)(rows + width - 1) / width * width * depth;
            _bytes = floats * sizeof(float);
            Pointer = (float*)NativeMemory.AlignedAlloc((nuint)_bytes, 64);
            GC.AddMemoryPressure(_bytes);
            fixed (float* pw = w.Data)
            {
                if (rowOrder == null)
                {
                    new StridedPanels(pw, depth, depthContiguous: true).Pack(0, rows, 0, depth, width, Pointer);
                    return;
                }
                // The rows reordered into native memory freed at once (not a GC array that would stay in the working set).
                float* reordered = (float*)NativeMemory.Alloc((nuint)w.Length, sizeof(float));
                try
                {
                    for (int r = 0; r < rows; r++)
                        new ReadOnlySpan<float>(pw + (long)rowOrder(r) * depth, depth).CopyTo(new Span<float>(reordered + (long)r * depth, depth));
                    new StridedPanels(reordered, depth, depthContiguous: true).Pack(0, rows, 0, depth, width, Pointer);
                }
                finally
                {
                    NativeMemory.Free(reordered);
                }
            }
        }

        ~Panels()
        {
            NativeMemory.AlignedFree(Pointer);
            GC.RemoveMemoryPressure(_bytes);
        }
    }
}
