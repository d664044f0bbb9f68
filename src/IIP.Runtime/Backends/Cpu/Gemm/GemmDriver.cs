namespace IIP.Runtime.Backends.Cpu.Gemm;

/// <summary>
/// The blocked SGEMM loop nest (Goto and van de Geijn, "Anatomy of high-performance matrix multiplication",
/// 2008; the BLIS five-loop form): C[M, N] = alpha * op(A) op(B) + beta * C, row-major C with row stride ldc.
/// <code>
/// for jc in N step NC                 B block columns
///   for pc in K step KC               depth block; beta applies on the first only
///     pack op(B)[pc.., jc..] into NR panels          (shared, packed by all threads)
///     for each work item (MC rows x a share of the NR panels), spread over the threads:
///       pack op(A)[ic.., pc..] into MR panels         (thread-local, stays in L2)
///       for each NR panel: for each MR panel: micro-kernel on the MR x NR tile of C
/// </code>
/// Edge tiles run the kernel on a stack tile and copy the valid part. Small problems stay on the calling thread.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Multiply-adds below which threading costs more than it saves (about 40 us on one core).</summary>
    public const long ParallelMinMacs = 1L << 21;

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
        int nr = ks.NR, kcMax = ks.KC;
        int ncMax = Math.Min(ks.NC, RoundUp(n, nr));
        float* bBlock = GemmScratch.B((long)kcMax * ncMax);
        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            int panels = (nc + nr - 1) / nr;
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                PackB(b, jc, nc, pc, kc, nr, panels, bBlock, threads);
                var block = new Block(ks, jc, nc, panels, pc, kc, alpha, pc == 0 ? beta : 1f, c, ldc, bBlock, m);
                int items = block.WorkItems(threads);
                if (items == 1 || threads == 1)
                {
                    for (int item = 0; item < items; item++) block.Compute(a, item, items);
                }
                else
                {
                    var job = new ComputeJob<TA>(block, a, items);
                    Parallel.For(0, items, job.Run);
                }
            }
        }
    }

    private static void PackB<TB>(TB b, int jc, int nc, int pc, int kc, int nr, int panels, float* bBlock, int threads)
        where TB : struct, IPanelSource
    {
        // Packing is a small share of the work (K x N against M x N x K); split it only when it is large.
        if (threads == 1 || panels < 2 * threads || (long)nc * kc < 1 << 16)
        {
            b.Pack(jc, nc, pc, kc, nr, bBlock);
            return;
        }
        var job = new PackJob<TB>(b, jc, nc, pc, kc, nr, panels, bBlock, threads);
        Parallel.For(0, threads, job.Run);
    }

    private sealed class PackJob<TB>(TB b, int jc, int nc, int pc, int kc, int nr, int panels, float* bBlock, int parts)
        where TB : struct, IPanelSource
    {
        public void Run(int part)
        {
            int p0 = (int)((long)panels * part / parts), p1 = (int)((long)panels * (part + 1) / parts);
            if (p1 <= p0) return;
            int o0 = p0 * nr, count = Math.Min(nc, p1 * nr) - o0;
            b.Pack(jc + o0, count, pc, kc, nr, bBlock + (long)o0 * kc);
        }
    }

    private sealed class ComputeJob<TA>(Block block, TA a, int items) where TA : struct, IPanelSource
    {
        public void Run(int item) => block.Compute(a, item, items);
    }

    /// <summary>One (jc, pc) block: a packed B block and the C columns it updates.</summary>
    private readonly struct Block(GemmKernelSet ks, int jc, int nc, int panels, int pc, int kc,
        float alpha, float beta, float* c, int ldc, float* bBlock, int m)
    {
        /// <summary>MC row chunks, times a split of the B panels when there are too few chunks to share.</summary>
        public int WorkItems(int threads)
        {
            int rowChunks = (m + ks.MC - 1) / ks.MC;
            int columnSplit = threads == 1 ? 1 : Math.Clamp((2 * threads + rowChunks - 1) / rowChunks, 1, panels);
            return rowChunks * columnSplit;
        }

        public void Compute<TA>(TA a, int item, int items) where TA : struct, IPanelSource
        {
            int mr = ks.MR, nr = ks.NR;
            int rowChunks = (m + ks.MC - 1) / ks.MC, columnSplit = items / rowChunks;
            int chunk = item / columnSplit, split = item % columnSplit;
            int i0 = chunk * ks.MC, mc = Math.Min(ks.MC, m - i0);
            int q0 = (int)((long)panels * split / columnSplit), q1 = (int)((long)panels * (split + 1) / columnSplit);
            float* aBlock = GemmScratch.A((long)ks.MC * ks.KC);
            a.Pack(i0, mc, pc, kc, mr, aBlock);
            int rowPanels = (mc + mr - 1) / mr;
            for (int q = q0; q < q1; q++)
            {
                float* bPanel = bBlock + (long)q * nr * kc;
                int cols = Math.Min(nr, nc - q * nr);
                for (int r = 0; r < rowPanels; r++)
                {
                    int rows = Math.Min(mr, mc - r * mr);
                    float* tile = c + (long)(i0 + r * mr) * ldc + jc + q * nr;
                    Tile(ks, kc, aBlock + (long)r * mr * kc, bPanel, tile, ldc, alpha, beta, rows, cols);
                }
            }
        }
    }

    private static void Tile(GemmKernelSet ks, int kc, float* aPanel, float* bPanel, float* c, int ldc,
        float alpha, float beta, int rows, int cols)
    {
        int mr = ks.MR, nr = ks.NR;
        bool half = cols <= nr / 2;
        if (rows == mr && cols == nr)
        {
            ks.Full(kc, aPanel, bPanel, c, ldc, alpha, beta);
            return;
        }
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
