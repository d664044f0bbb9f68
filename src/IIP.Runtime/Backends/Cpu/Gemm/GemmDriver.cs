using System.Runtime.CompilerServices;

namespace IIP.Runtime.Backends.Cpu.Gemm;

/// <summary>
/// The blocked SGEMM loop nest (Goto and van de Geijn, "Anatomy of high-performance matrix multiplication",
/// 2008, in the BLIS arrangement): C[M, N] = alpha * op(A) op(B) + beta * C, row-major C with row stride ldc.
/// <code>
/// for jc in N step NC, ic in M step RowBlock
///   for pc in K step KC                     equal depth blocks; beta applies on the first only
///     pack op(A)[ic.., pc..] into MR panels and op(B)[pc.., jc..] into NR panels   (shared, all threads pack)
///     for each work item (a share of the A panels x a group of ItemColumns columns), over the threads:
///       for each A panel (MR x KC, stays in L1):
///         for each B panel of the group (the group, KC x ItemColumns, stays in L2):
///           micro-kernel on an MR x NR tile of C
/// </code>
/// The broadcast operand (an A panel, 12 x 256 floats = 12 KiB) is the L1-resident one and the vector operand
/// (B panels) streams from L2, as in BLIS's Skylake-X configuration; the kernel prefetches its C tile. Every
/// element is packed once per block. Edge tiles run the kernel on a stack tile and copy the valid part. Small
/// problems stay on the calling thread.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Multiply-adds below which threading costs more than it saves (about 40 us on one core).</summary>
    public const long ParallelMinMacs = 1L << 21;

    private static readonly int ItemsPerThread = int.TryParse(Environment.GetEnvironmentVariable("IIP_GEMM_ITEMS"), out int v) ? v : 4;

    public static void Run<TA, TB>(GemmKernelSet ks, TA a, TB b, int m, int n, int k,
        float alpha, float beta, float* c, int ldc, bool parallel)
        where TA : struct, IPanelSource
        where TB : struct, IPanelSource
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        int threads = parallel && (long)m * n * k >= ParallelMinMacs ? Environment.ProcessorCount : 1;
        // Equal depth blocks of at most KC: K = 320 runs as 2 x 160, not 256 + 64 (each block is a pass over C).
        int kBlocks = (k + ks.KC - 1) / ks.KC, kcMax = (k + kBlocks - 1) / kBlocks;
        int rowBlock = Math.Min(RoundUp(ks.RowBlock, ks.MR), RoundUp(m, ks.MR));
        int columnBlock = Math.Min(RoundUp(ks.NC, ks.NR), RoundUp(n, ks.NR));
        var job = new Job<TA, TB>(ks, a, b, alpha, c, ldc, GemmScratch.A((long)rowBlock * kcMax),
            GemmScratch.B((long)kcMax * columnBlock), threads);
        for (int jc = 0; jc < n; jc += columnBlock)
            for (int ic = 0; ic < m; ic += rowBlock)
                for (int pc = 0; pc < k; pc += kcMax)
                    job.RunBlock(ic, Math.Min(rowBlock, m - ic), jc, Math.Min(columnBlock, n - jc), pc, Math.Min(kcMax, k - pc),
                        pc == 0 ? beta : 1f);
    }

    /// <summary>One GEMM call: the shared packed blocks and the (ic, jc, pc) block being computed.</summary>
    private sealed class Job<TA, TB>(GemmKernelSet ks, TA a, TB b, float alpha, float* c, int ldc,
        float* aPacked, float* bPacked, int threads)
        where TA : struct, IPanelSource
        where TB : struct, IPanelSource
    {
        private int _ic, _mc, _jc, _nc, _pc, _kc, _aPanels, _bPanels, _groupPanels, _columnGroups, _rowSplits;
        private bool _aShared, _bShared;
        private float _beta;
        private Action<int>? _pack, _compute;

        public void RunBlock(int ic, int mc, int jc, int nc, int pc, int kc, float beta)
        {
            (_ic, _mc, _jc, _nc, _pc, _kc, _beta) = (ic, mc, jc, nc, pc, kc, beta);
            _aPanels = (mc + ks.MR - 1) / ks.MR;
            _bPanels = (nc + ks.NR - 1) / ks.NR;
            // Column groups of about ItemColumns; a narrow B (up to 1.5 groups) stays one group.
            _groupPanels = Math.Max(1, ks.ItemColumns / ks.NR);
            if (2 * _bPanels <= 3 * _groupPanels) _groupPanels = _bPanels;
            _columnGroups = (_bPanels + _groupPanels - 1) / _groupPanels;
            // A few items per thread balance the load (other processes may hold a core for a while).
            _rowSplits = threads == 1 ? 1 : Math.Clamp((ItemsPerThread * threads + _columnGroups - 1) / _columnGroups, 1, _aPanels);
            int items = _columnGroups * _rowSplits;
            // An operand block used by one item only is packed by that item, on the core that reads it (L2);
            // one shared by several items is packed first, by all threads.
            _aShared = _columnGroups > 1;
            _bShared = _rowSplits > 1;
            long sharedFloats = ((_aShared ? mc : 0) + (_bShared ? nc : 0)) * (long)kc;
            if (sharedFloats > 0)
            {
                int packParts = threads > 1 && sharedFloats >= 1 << 15 ? 2 * threads : 1;
                if (packParts == 1) PackShared(0, 1);
                else Parallel.For(0, packParts, _pack ??= part => PackShared(part, 2 * threads));
            }
            if (items == 1 || threads == 1)
                for (int item = 0; item < items; item++) Compute(item);
            else
                Parallel.For(0, items, _compute ??= Compute);
        }

        // Part `part` of `parts` packs its share of the shared A panels followed by the shared B panels.
        private void PackShared(int part, int parts)
        {
            int aCount = _aShared ? _aPanels : 0, total = aCount + (_bShared ? _bPanels : 0);
            int p0 = (int)((long)total * part / parts), p1 = (int)((long)total * (part + 1) / parts);
            if (p0 < aCount) PackA(p0, Math.Min(p1, aCount));
            if (p1 > aCount) PackB(Math.Max(p0, aCount) - aCount, p1 - aCount);
        }

        private void PackA(int i0, int i1)
        {
            int mr = ks.MR;
            a.Pack(_ic + i0 * mr, Math.Min(_mc, i1 * mr) - i0 * mr, _pc, _kc, mr, aPacked + (long)i0 * mr * _kc);
        }

        private void PackB(int j0, int j1)
        {
            int nr = ks.NR;
            b.Pack(_jc + j0 * nr, Math.Min(_nc, j1 * nr) - j0 * nr, _pc, _kc, nr, bPacked + (long)j0 * nr * _kc);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Compute(int item)
        {
            int mr = ks.MR, nr = ks.NR, kc = _kc;
            int group = item / _rowSplits, split = item % _rowSplits;
            int j0 = group * _groupPanels, j1 = Math.Min(_bPanels, j0 + _groupPanels);
            int i0 = (int)((long)_aPanels * split / _rowSplits), i1 = (int)((long)_aPanels * (split + 1) / _rowSplits);
            if (!_aShared) PackA(i0, i1);
            if (!_bShared) PackB(j0, j1);
            for (int i = i0; i < i1; i++)
            {
                float* aPanel = aPacked + (long)i * mr * kc;
                int rows = Math.Min(mr, _mc - i * mr);
                float* cRow = c + (long)(_ic + i * mr) * ldc + _jc;
                for (int j = j0; j < j1; j++)
                    Tile(ks, kc, aPanel, bPacked + (long)j * nr * kc, cRow + j * nr, ldc, alpha, _beta, rows, Math.Min(nr, _nc - j * nr));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(GemmKernelSet ks, int kc, float* aPanel, float* bPanel, float* c, int ldc,
        float alpha, float beta, int rows, int cols)
    {
        int mr = ks.MR, nr = ks.NR;
        if (rows == mr && cols == nr)
        {
            ks.Full(kc, aPanel, bPanel, c, ldc, alpha, beta);
            return;
        }
        bool half = cols <= nr / 2;
        if (rows == mr && cols == nr / 2)
        {
            ks.Half(kc, aPanel, bPanel, c, ldc, alpha, beta);
            return;
        }
        // Edge tile: the product on the stack, then the valid rows x cols into C.
        float* tile = stackalloc float[mr * nr];
        if (half) ks.Half(kc, aPanel, bPanel, tile, nr, 1f, 0f);
        else ks.Full(kc, aPanel, bPanel, tile, nr, 1f, 0f);
        for (int i = 0; i < rows; i++)
        {
            float* src = tile + i * nr, dst = c + (long)i * ldc;
            if (beta == 0f)
                for (int j = 0; j < cols; j++) dst[j] = alpha * src[j];
            else
                for (int j = 0; j < cols; j++) dst[j] = alpha * src[j] + beta * dst[j];
        }
    }

    // C = beta * C (K = 0 or alpha = 0; beta = 0 writes zeros without reading C, as BLAS does).
    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0f) row.Clear();
            else if (beta != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;
}
