using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// The blocked SGEMM loop nest (Goto and van de Geijn, "Anatomy of high-performance matrix multiplication",
/// 2008, in the BLIS arrangement): C[M, N] = alpha * op(A) op(B) + beta * C, row-major C with row stride ldc.
/// <code>
/// for jc in N step NC, ic in M step RowBlock
///   work items = (a share of the rows) x (a group of about ItemColumns columns), a few per thread
///   pack the operand that several items share (A when there are several column groups, B when there are
///   several row shares) over all depth blocks, all threads together          (parallel phase 1)
///   each item, on some thread:                                                 (parallel phase 2)
///     for pc in K step KC                    equal depth blocks; beta applies on the first only
///       pack its own part of the unshared operand for this depth block (on the core that reads it)
///       for each A panel (MR x KC, stays in L1):
///         for each B panel of the group (the group, KC x ItemColumns, stays in L2):
///           micro-kernel on an MR x NR tile of C        (the item's C block stays in L2 across pc)
/// </code>
/// The broadcast operand (an A panel, 12 x 384 floats = 18 KiB) is the L1-resident one and the vector operand
/// (B panels) streams from L2, as in BLIS's Skylake-X configuration; the kernel prefetches its C tile. Two
/// synchronisations per block keep the cores busy when other processes take one of them for a while. Edge tiles
/// run the kernel on a stack tile and copy the valid part. Small problems stay on the calling thread. An operand
/// packed in advance (<see cref="PrepackedPanels"/>, model weights) is read in place and never packed.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Multiply-adds below which threading costs more than it saves (about 40 us on one core).</summary>
    public const long ParallelMinMacs = 1L << 21;

    /// <summary>Work items per thread: enough to even out the cores without splitting blocks too finely.</summary>
    private const int ItemsPerThread = 4;

    /// <summary>
    /// Bytes of C one work item may own when C is revisited for several depth blocks: its C block then stays in L2
    /// (with the item's B panels, 384 KiB) between depth blocks instead of streaming through L3 once per block.
    /// </summary>
    private const long ItemCBytes = 512 * 1024;

    /// <summary>
    /// C = alpha op(A) op(B) + beta C (+ bias: <see cref="GemmBias"/>, added to each tile right after its first depth
    /// block, while the tile is in L1, so a bias costs no pass over C). With <paramref name="geglu"/> the product goes
    /// through GEGLU into the geglu's output instead of C (<see cref="GemmGeglu"/>: c is not used, alpha must be 1 and
    /// beta 0, the bias is the geglu's).
    /// </summary>
    public static void Run<TA, TB>(GemmKernelSet ks, TA a, TB b, int m, int n, int k,
        float alpha, float beta, float* c, int ldc, bool parallel, GemmBias bias = default, GemmGeglu geglu = default)
        where TA : struct, IPanelSource
        where TB : struct, IPanelSource
    {
        if (m <= 0 || n <= 0) return;
        if (geglu.IsPresent && (k <= 0 || alpha != 1f || beta != 0f || bias.IsPresent || n % ks.NR != 0))
            throw new ArgumentException($"GEGLU output needs K > 0, alpha 1, beta 0, no C bias and whole B panels (N = {n}, NR = {ks.NR})");
        if (k <= 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            if (bias.IsPresent) AddBias(c, ldc, m, n, bias.PerRow, bias.PerColumn);
            return;
        }
        int threads = parallel && (long)m * n * k >= ParallelMinMacs ? Environment.ProcessorCount : 1;
        int rowBlock = Math.Min(RoundUp(ks.RowBlock, ks.MR), RoundUp(m, ks.MR));
        int columnBlock = Math.Min(RoundUp(ks.NC, ks.NR), RoundUp(n, ks.NR));
        var job = new Job<TA, TB>(ks, a, b, k, alpha, beta, c, ldc, threads, bias, geglu);
        for (int jc = 0; jc < n; jc += columnBlock)
            for (int ic = 0; ic < m; ic += rowBlock)
                job.RunBlock(ic, Math.Min(rowBlock, m - ic), jc, Math.Min(columnBlock, n - jc));
    }

    /// <summary>One GEMM call and the (ic, jc) block being computed.</summary>
    private sealed class Job<TA, TB>(GemmKernelSet ks, TA a, TB b, int k, float alpha, float beta, float* c, int ldc, int threads,
        GemmBias bias, GemmGeglu geglu)
        where TA : struct, IPanelSource
        where TB : struct, IPanelSource
    {
        // Equal depth blocks of at most KC: K = 1280 runs as 4 x 320, not 3 x 384 + 128 (each is a pass over C).
        private readonly int _kBlocks = (k + ks.KC - 1) / ks.KC;
        private readonly int _kc = (k + (k + ks.KC - 1) / ks.KC - 1) / ((k + ks.KC - 1) / ks.KC);
        private int _ic, _mc, _jc, _nc, _aPanels, _bPanels, _groupPanels, _columnGroups, _rowSplits;
        private bool _aShared, _bShared;
        private float* _sharedA, _sharedB;
        private readonly float* _prepackedA = a.Prepacked, _prepackedB = b.Prepacked;
        private Action<int>? _pack, _compute;

        public void RunBlock(int ic, int mc, int jc, int nc)
        {
            (_ic, _mc, _jc, _nc) = (ic, mc, jc, nc);
            _aPanels = (mc + ks.MR - 1) / ks.MR;
            _bPanels = (nc + ks.NR - 1) / ks.NR;
            // Column groups of about ItemColumns; a narrow B (up to 1.5 groups) stays one group.
            _groupPanels = Math.Max(1, ks.ItemColumns / ks.NR);
            if (2 * _bPanels <= 3 * _groupPanels) _groupPanels = _bPanels;
            _columnGroups = (_bPanels + _groupPanels - 1) / _groupPanels;
            _rowSplits = threads == 1 ? 1 : Math.Clamp((ItemsPerThread * threads + _columnGroups - 1) / _columnGroups, 1, _aPanels);
            if (_kBlocks > 1 || geglu.IsPresent)
            {
                long itemCBytes = (long)mc * _groupPanels * ks.NR * sizeof(float);
                _rowSplits = Math.Clamp(Math.Max(_rowSplits, (int)((itemCBytes + ItemCBytes - 1) / ItemCBytes)), 1, _aPanels);
            }
            int items = _columnGroups * _rowSplits;
            _aShared = _columnGroups > 1 && _prepackedA == null;
            _bShared = _rowSplits > 1 && _prepackedB == null;
            // Shared operands are packed whole (all depth blocks): depth block pc of A starts at pc x (A panels x MR).
            if (_aShared) _sharedA = GemmScratch.SharedA((long)_aPanels * ks.MR * k);
            if (_bShared) _sharedB = GemmScratch.SharedB((long)_bPanels * ks.NR * k);
            long sharedFloats = ((_aShared ? mc : 0) + (_bShared ? nc : 0)) * (long)k;
            if (sharedFloats > 0)
            {
                int parts = threads > 1 && sharedFloats >= 1 << 15 ? 2 * threads * _kBlocks : _kBlocks;
                if (parts == _kBlocks) for (int part = 0; part < parts; part++) PackShared(part, parts);
                else Parallel.For(0, parts, _pack ??= part => PackShared(part, 2 * threads * _kBlocks));
            }
            if (items == 1 || threads == 1)
                for (int item = 0; item < items; item++) Compute(item);
            else
                Parallel.For(0, items, _compute ??= Compute);
        }

        // Part `part` of `parts` (a whole number per depth block) packs its share of the shared panels of one block.
        private void PackShared(int part, int parts)
        {
            int perBlock = parts / _kBlocks, block = part / perBlock, share = part % perBlock;
            int pc = block * _kc, kc = Math.Min(_kc, k - pc);
            int aCount = _aShared ? _aPanels : 0, total = aCount + (_bShared ? _bPanels : 0);
            int p0 = (int)((long)total * share / perBlock), p1 = (int)((long)total * (share + 1) / perBlock);
            if (p0 < aCount)
                PackA(p0, Math.Min(p1, aCount), pc, kc, _sharedA + (long)pc * _aPanels * ks.MR + (long)p0 * ks.MR * kc);
            if (p1 > aCount)
            {
                int j0 = Math.Max(p0, aCount) - aCount;
                PackB(j0, p1 - aCount, pc, kc, _sharedB + (long)pc * _bPanels * ks.NR + (long)j0 * ks.NR * kc);
            }
        }

        private void PackA(int i0, int i1, int pc, int kc, float* dst)
        {
            int mr = ks.MR;
            a.Pack(_ic + i0 * mr, Math.Min(_mc, i1 * mr) - i0 * mr, pc, kc, mr, dst);
        }

        private void PackB(int j0, int j1, int pc, int kc, float* dst)
        {
            int nr = ks.NR;
            b.Pack(_jc + j0 * nr, Math.Min(_nc, j1 * nr) - j0 * nr, pc, kc, nr, dst);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Compute(int item)
        {
            int mr = ks.MR, nr = ks.NR;
            int group = item / _rowSplits, split = item % _rowSplits;
            int j0 = group * _groupPanels, j1 = Math.Min(_bPanels, j0 + _groupPanels);
            int i0 = (int)((long)_aPanels * split / _rowSplits), i1 = (int)((long)_aPanels * (split + 1) / _rowSplits);
            bool packA = !_aShared && _prepackedA == null, packB = !_bShared && _prepackedB == null;
            float* privateA = packA ? GemmScratch.PrivateA((long)(i1 - i0) * mr * _kc) : null;
            float* privateB = packB ? GemmScratch.PrivateB((long)(j1 - j0) * nr * _kc) : null;
            // Rows of C a multiple of 4 KiB apart fall into one L1 set (the 12 rows of a tile would evict each
            // other): such items accumulate in a private block with a padded stride, added to C at the end. A GEGLU
            // output always stages: the block goes through GEGLU into the output.
            bool staged = geglu.IsPresent || (ldc % 1024 == 0 && _kBlocks > 1);
            int itemRows = Math.Min(_mc, i1 * mr) - i0 * mr, itemCols = Math.Min(_nc, j1 * nr) - j0 * nr;
            int stagedLd = (j1 - j0) * nr + 16;
            float* cItem = c + (long)(_ic + i0 * mr) * ldc + _jc + j0 * nr;
            float* target = staged ? GemmScratch.PrivateC((long)(i1 - i0) * mr * stagedLd) : cItem;
            int targetLd = staged ? stagedLd : ldc;
            for (int pc = 0; pc < k; pc += _kc)
            {
                int kc = Math.Min(_kc, k - pc);
                float blockBeta = pc > 0 ? 1f : staged ? 0f : beta;
                // Panel i of A (j of B) of this block for this depth block is at base + i x stride: shared blocks are
                // indexed from panel 0, private ones from i0 (j0); prepacked panels span all of K, so their depth
                // block starts pc rows into each panel and panels lie MR x K (NR x K) apart.
                float* aBase, bBase;
                long aStride = (long)mr * kc, bStride = (long)nr * kc;
                if (_prepackedA != null) { aBase = _prepackedA + (long)(_ic / mr) * mr * k + (long)pc * mr; aStride = (long)mr * k; }
                else if (_aShared) aBase = _sharedA + (long)pc * _aPanels * mr;
                else { PackA(i0, i1, pc, kc, privateA); aBase = privateA - (long)i0 * mr * kc; }
                if (_prepackedB != null) { bBase = _prepackedB + (long)(_jc / nr) * nr * k + (long)pc * nr; bStride = (long)nr * k; }
                else if (_bShared) bBase = _sharedB + (long)pc * _bPanels * nr;
                else { PackB(j0, j1, pc, kc, privateB); bBase = privateB - (long)j0 * nr * kc; }
                for (int i = i0; i < i1; i++)
                {
                    float* aPanel = aBase + i * aStride;
                    int rows = Math.Min(mr, _mc - i * mr);
                    float* cRow = target + (long)(i - i0) * mr * targetLd;
                    for (int j = j0; j < j1; j++)
                    {
                        int cols = Math.Min(nr, _nc - j * nr);
                        float* tile = cRow + (j - j0) * nr;
                        Tile(ks, kc, aPanel, bBase + j * bStride, tile, targetLd, alpha, blockBeta, rows, cols);
                        // The bias joins the first depth block's sum (as if C had held it with beta = 1), in L1.
                        if (pc == 0 && !staged && bias.IsPresent)
                            AddBias(tile, targetLd, rows, cols, bias.Row(_ic + i * mr), bias.Column(_jc + j * nr));
                        if (pc == 0 && geglu.IsPresent)
                            geglu.AddBias(tile, targetLd, rows, _jc / nr + j, nr);
                    }
                }
            }
            if (geglu.IsPresent)
            {
                geglu.Apply(target, stagedLd, _ic + i0 * mr, itemRows, _jc / nr + j0, j1 - j0, nr);
            }
            else if (staged)
            {
                AddBlock(target, stagedLd, cItem, ldc, itemRows, itemCols, beta);
                if (bias.IsPresent) AddBias(cItem, ldc, itemRows, itemCols, bias.Row(_ic + i0 * mr), bias.Column(_jc + j0 * nr));
            }
        }
    }

    // dst[r, j] = src[r, j] + beta dst[r, j] (beta = 0: a copy, dst not read).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddBlock(float* src, int srcLd, float* dst, int dstLd, int rows, int cols, float beta)
    {
        var vb = Vector256.Create(beta);
        for (int r = 0; r < rows; r++, src += srcLd, dst += dstLd)
        {
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= cols; j += 8)
                {
                    var y = Vector256.Load(src + j);
                    if (beta != 0f) y = Vector256.FusedMultiplyAdd(vb, Vector256.Load(dst + j), y);
                    Vector256.Store(y, dst + j);
                }
            for (; j < cols; j++) dst[j] = beta == 0f ? src[j] : src[j] + beta * dst[j];
        }
    }

    // c[r, j] += perRow[r] + perColumn[j] over rows x cols (either bias may be null).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void AddBias(float* c, int ldc, int rows, int cols, float* perRow, float* perColumn)
    {
        for (int r = 0; r < rows; r++, c += ldc)
        {
            float rowBias = perRow == null ? 0f : perRow[r];
            int j = 0;
            if (perColumn == null)
            {
                var vr = Vector256.Create(rowBias);
                if (Vector256.IsHardwareAccelerated)
                    for (; j + 8 <= cols; j += 8) Vector256.Store(Vector256.Load(c + j) + vr, c + j);
                for (; j < cols; j++) c[j] += rowBias;
            }
            else if (perRow == null)
            {
                if (Vector256.IsHardwareAccelerated)
                    for (; j + 8 <= cols; j += 8) Vector256.Store(Vector256.Load(c + j) + Vector256.Load(perColumn + j), c + j);
                for (; j < cols; j++) c[j] += perColumn[j];
            }
            else
            {
                for (; j < cols; j++) c[j] += rowBias + perColumn[j];
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
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        for (int i = 0; i < rows; i++)
        {
            float* src = tile + i * nr, dst = c + (long)i * ldc;
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= cols; j += 8)
                {
                    var y = va * Vector256.Load(src + j);
                    if (beta != 0f) y = Vector256.FusedMultiplyAdd(vb, Vector256.Load(dst + j), y);
                    Vector256.Store(y, dst + j);
                }
            for (; j < cols; j++) dst[j] = beta == 0f ? alpha * src[j] : alpha * src[j] + beta * dst[j];
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
