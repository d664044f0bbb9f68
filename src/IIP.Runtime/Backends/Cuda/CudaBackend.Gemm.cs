using IIP.Native;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cuda;

/// <summary>
/// Linear layers and convolutions on the tensor-core GEMM of kernels/gemm.cu: Linear and its input gradient as
/// plain GEMMs, 1x1 convolutions as GEMMs batched over images, other convolutions as implicit GEMMs.
/// </summary>
public sealed partial class CudaBackend
{
    private const int GemmTile = 128, GemmTileK = 32, GemmThreads = 256;

    // cuBLAS convolutions materialize im2col up to this size (SD v1.4's UNet at 64x64, batch 2: at most 141 MB); larger
    // ones (the VAE at full resolution) stay on the implicit-GEMM kernel.
    private const long Im2colBudgetBytes = 512L << 20;

    // Split K: each split sums at least this many k tiles (256 of K), and a product is split at most this many ways.
    private const int MinSplitKTiles = 8, MaxSplits = 16;

    // kernels/gemm.cu flag bits (XRows: a convolution input's rows start 16-byte aligned)
    private const int AVector = 1, BVector = 2, CPair = 4, XRows = 8;

    private const int BiasNone = 0, BiasPerColumn = 1, BiasPerRow = 2;

    private enum GemmLayout { NT, NN, TN }

    /// <summary>
    /// The main loop of the linear layers and 1x1 convolutions whose operands allow 16-byte loads (kernels/gemm.cu):
    /// registers stage the next k tile (the default, timed on an H200), or cp.async keeps two in flight
    /// (<see cref="GemmPipeline.CpAsync"/>, opt-in through <see cref="EngineOptions.GemmPipeline"/> until a GPU has timed it).
    /// </summary>
    public GemmPipeline GemmPipeline { get; set; }

    /// <summary>
    /// C [M, N] = alpha op(A) op(B) + bias, batched: operand i of batch z starts at its pointer + z * stride (elements).
    /// NT: A [M, K], B [N, K]; NN: A [M, K], B [K, N]; TN: A [K, M], B [K, N] (row-major with leading dimensions).
    /// </summary>
    private void Gemm(GemmLayout layout, int m, int n, int k, DevicePointer a, int lda, long strideA, DevicePointer b, int ldb,
        long strideB, DevicePointer c, int ldc, long strideC, int batch, float alpha, DevicePointer bias = default,
        int biasMode = BiasNone, bool floatOutput = false)
    {
        if (m == 0 || n == 0 || batch == 0) return;
        if (_blas is { } blas)
        {
            BlasGemm(blas, layout, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch, alpha, bias, biasMode, floatOutput);
            return;
        }
        var kernel = (layout, floatOutput) switch
        {
            (GemmLayout.NT, false) => _kernels.GemmNT,
            (GemmLayout.NN, false) => _kernels.GemmNN,
            (GemmLayout.TN, false) => _kernels.GemmTN,
            (GemmLayout.NT, true) => _kernels.GemmNTFloatOut,
            _ => throw new NotSupportedException($"GEMM {layout} with fp32 output"),
        };
        int outBytes = floatOutput ? 4 : 2;
        int sharedBytes = 0;
        int splits = floatOutput ? 1 : SplitCount((long)Blocks(n, GemmTile) * Blocks(m, GemmTile) * batch, Blocks(k, GemmTileK), Device.MultiprocessorCount);
        // 16-byte vector loads need every row start (and batch start) aligned: leading dimension and stride multiples of 8.
        int flags = (lda % 8 == 0 && strideA % 8 == 0 && Aligned(a, 16) ? AVector : 0)
            | (ldb % 8 == 0 && strideB % 8 == 0 && Aligned(b, 16) ? BVector : 0)
            | (ldc % 2 == 0 && strideC % 2 == 0 && Aligned(c, 2 * outBytes) ? CPair : 0);
        if (GemmPipeline == GemmPipeline.CpAsync && !floatOutput && (flags & (AVector | BVector)) == (AVector | BVector)
            && _kernels.GemmPipelined is { } pipelined)
        {
            kernel = layout switch { GemmLayout.NT => pipelined.NT, GemmLayout.NN => pipelined.NN, _ => pipelined.TN };
            sharedBytes = CudaKernelSet.GemmPipelinedSharedBytes;
        }
        var (partial, owner) = splits > 1 ? Scratch((long)batch * splits * m * n * sizeof(float)) : (DevicePointer.Null, null);
        var grid = new Dim3((uint)Blocks(n, GemmTile), (uint)Blocks(m, GemmTile), (uint)(batch * splits));
        kernel.Launch(grid, GemmThreads, sharedBytes, Stream, a, b, c, bias, m, n, k, lda, ldb, ldc, strideA, strideB, strideC, alpha, biasMode, flags,
            splits, partial);
        if (splits > 1) ReduceSplits(partial, c, bias, biasMode, m, n, ldc, strideC, splits, batch);
        GC.KeepAlive(owner);
    }

    /// <summary>
    /// <see cref="Gemm"/> on cuBLAS. Row-major C [M, N] = op(A) op(B) is column-major C^T [N, M] = op(B)^T op(A)^T, so B
    /// goes first: NT -> (T, N), NN -> (N, N), TN -> (N, T). Without bias cuBLAS writes C (fp32 accumulation, one
    /// rounding); with one, the fp32 product goes to scratch and splitk_reduce_f16 (one split) adds the bias and rounds
    /// once, as the engine's own GEMM does.
    /// </summary>
    private void BlasGemm(CudaBlas blas, GemmLayout layout, int m, int n, int k, DevicePointer a, int lda, long strideA, DevicePointer b,
        int ldb, long strideB, DevicePointer c, int ldc, long strideC, int batch, float alpha, DevicePointer bias, int biasMode, bool floatOutput)
    {
        var (first, second) = layout switch
        {
            GemmLayout.NT => (CudaBlas.Operation.Transpose, CudaBlas.Operation.None),
            GemmLayout.NN => (CudaBlas.Operation.None, CudaBlas.Operation.None),
            _ => (CudaBlas.Operation.None, CudaBlas.Operation.Transpose),
        };
        if (biasMode == BiasNone || floatOutput)
        {
            if (biasMode != BiasNone) throw new NotSupportedException("GEMM with fp32 output and a bias");
            blas.Gemm(first, second, n, m, k, alpha, b, ldb, strideB, a, lda, strideA, 0f, c,
                floatOutput ? CudaBlas.DataType.Float32 : CudaBlas.DataType.Float16, ldc, strideC, batch);
            return;
        }
        var (partial, owner) = Scratch((long)batch * m * n * sizeof(float));
        blas.Gemm(first, second, n, m, k, alpha, b, ldb, strideB, a, lda, strideA, 0f, partial, CudaBlas.DataType.Float32, n, (long)m * n, batch);
        ReduceSplits(partial, c, bias, biasMode, m, n, ldc, strideC, 1, batch);
        GC.KeepAlive(owner);
    }

    /// <summary>
    /// How many ways to split K (kernels/gemm.cu) for a product of <paramref name="tiles"/> 128 x 128 output tiles (all
    /// batch items) and <paramref name="kTiles"/> k tiles of 32 (<see cref="GridFill"/>): enough blocks for two per SM
    /// (the kernels are built with __launch_bounds__(256, 2): two blocks of 40 KiB shared memory and at most 128 registers
    /// a thread fit on one), at least <see cref="MinSplitKTiles"/> k tiles per split so the fp32 partials stay cheap next
    /// to the products, at most <see cref="MaxSplits"/>; no split without k tiles. The k tiles are then shared evenly.
    /// </summary>
    internal static int SplitCount(long tiles, int kTiles, int multiprocessors)
    {
        int splits = GridFill.Splits(tiles, kTiles, MinSplitKTiles, MaxSplits, multiprocessors);
        if (splits == 1) return 1;
        int perSplit = (kTiles + splits - 1) / splits;
        return (kTiles + perSplit - 1) / perSplit;
    }

    // C of item z at c + z strideC = fp16(sum of the splits' fp32 partials [batch][splits][M][N] + bias).
    private void ReduceSplits(DevicePointer partial, DevicePointer c, DevicePointer bias, int biasMode, int m, int n, int ldc, long strideC,
        int splits, int batch)
    {
        long total = (long)m * n * batch;
        var grid = new Dim3((uint)Math.Min(Blocks(total, GemmThreads), 65535), 1, 1);
        _kernels.SplitKReduce.Launch(grid, GemmThreads, 0, Stream, partial, c, bias, m, n, ldc, strideC, splits, batch, biasMode);
    }

    public void Linear(Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        // y [M, N] = x [M, K] w^T [K, N] + b [N]
        Require(nameof(Linear), x.Rank == 2 && w.Rank == 2 && y.Rank == 2, x, w, y);
        int m = x.Shape[0], k = x.Shape[1], n = w.Shape[0];
        Require(nameof(Linear), w.Shape[1] == k && y.Shape[0] == m && y.Shape[1] == n && (b is null || b.Length == n), x, w, y);
        Gemm(GemmLayout.NT, m, n, k, Ptr(x), k, 0, Ptr(w), k, 0, Ptr(y), n, 0, 1, 1f, PtrOrNull(b), b is null ? BiasNone : BiasPerColumn);
    }

    public void LinearBackwardInput(Tensor dy, Tensor w, Tensor dx)
    {
        // dx [M, K] = dy [M, N] w [N, K]
        Require(nameof(LinearBackwardInput), dy.Rank == 2 && w.Rank == 2 && dx.Rank == 2, dy, w, dx);
        int m = dy.Shape[0], n = dy.Shape[1], k = w.Shape[1];
        Require(nameof(LinearBackwardInput), w.Shape[0] == n && dx.Shape[0] == m && dx.Shape[1] == k, dy, w, dx);
        Gemm(GemmLayout.NN, m, k, n, Ptr(dy), n, 0, Ptr(w), k, 0, Ptr(dx), k, 0, 1, 1f);
    }

    public void Conv2d(Tensor x, Tensor w, Tensor? b, int stride, Padding2d pad, Tensor y)
    {
        // x [N, C, H, W], w [O, C, KH, KW] -> y [N, O, Ho, Wo]
        Require(nameof(Conv2d), x.Rank == 4 && w.Rank == 4 && y.Rank == 4 && stride >= 1, x, w, y);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = (h + pad.Top + pad.Bottom - kh) / stride + 1, wo = (wd + pad.Left + pad.Right - kw) / stride + 1;
        Require(nameof(Conv2d), w.Shape[1] == c && y.Shape[0] == n && y.Shape[1] == o && y.Shape[2] == ho && y.Shape[3] == wo
            && ho > 0 && wo > 0 && (b is null || b.Length == o), x, w, y);
        int pixels = ho * wo;
        if (kh == 1 && kw == 1 && stride == 1 && pad == default)
        {
            // per image: y [O, HW] = w [O, C] x [C, HW] + b [O]
            Gemm(GemmLayout.NN, o, pixels, c, Ptr(w), c, 0, Ptr(x), pixels, (long)c * pixels, Ptr(y), pixels, (long)o * pixels, n, 1f,
                PtrOrNull(b), b is null ? BiasNone : BiasPerRow);
            return;
        }
        if (n == 0) return;
        int ckk = c * kh * kw;
        if (_blas is { } blas && 2L * n * ckk * pixels <= Im2colBudgetBytes)
        {
            // explicit im2col, then per image y [O, HoWo] = w [O, C KH KW] col [C KH KW, HoWo] + b on cuBLAS
            long colElements = (long)n * ckk * pixels;
            var (col, colOwner) = Scratch(colElements * CudaStorage.ElementBytes);
            var im2colGrid = new Dim3((uint)Math.Min(Blocks(colElements, GemmThreads), 65535), 1, 1);
            _kernels.Im2col.Launch(im2colGrid, GemmThreads, 0, Stream, Ptr(x), col, n, c, h, wd, kh, kw, stride, pad.Top, pad.Left, ho, wo);
            BlasGemm(blas, GemmLayout.NN, o, pixels, ckk, Ptr(w), ckk, 0, col, pixels, (long)ckk * pixels, Ptr(y), pixels, (long)o * pixels, n, 1f,
                PtrOrNull(b), b is null ? BiasNone : BiasPerRow, floatOutput: false);
            GC.KeepAlive(colOwner);
            return;
        }
        int flags = (ckk % 8 == 0 && Aligned(Ptr(w), 16) ? AVector : 0) | (pixels % 2 == 0 && Aligned(Ptr(y), 4) ? CPair : 0)
            | (wd % 8 == 0 && Aligned(Ptr(x), 16) ? XRows : 0);
        int splits = SplitCount((long)Blocks(pixels, GemmTile) * Blocks(o, GemmTile) * n, Blocks(ckk, GemmTileK), Device.MultiprocessorCount);
        var (partial, owner) = splits > 1 ? Scratch((long)n * splits * o * pixels * sizeof(float)) : (DevicePointer.Null, null);
        var grid = new Dim3((uint)Blocks(pixels, GemmTile), (uint)Blocks(o, GemmTile), (uint)(n * splits));
        _kernels.Conv2d.Launch(grid, GemmThreads, 0, Stream, Ptr(x), Ptr(w), PtrOrNull(b), Ptr(y),
            c, h, wd, o, kh, kw, stride, pad.Top, pad.Left, ho, wo, flags, splits, partial);
        if (splits > 1) ReduceSplits(partial, Ptr(y), PtrOrNull(b), b is null ? BiasNone : BiasPerRow, o, pixels, pixels, (long)o * pixels, splits, n);
        GC.KeepAlive(owner);
    }

    public void Conv2dBackwardInput(Tensor dy, Tensor w, int stride, Padding2d pad, Tensor dx)
    {
        // dy [N, O, Ho, Wo], w [O, C, KH, KW] -> dx [N, C, H, W] (the transposed convolution)
        Require(nameof(Conv2dBackwardInput), dx.Rank == 4 && w.Rank == 4 && dy.Rank == 4 && stride >= 1, dy, w, dx);
        int n = dx.Shape[0], c = dx.Shape[1], h = dx.Shape[2], wd = dx.Shape[3];
        int o = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = (h + pad.Top + pad.Bottom - kh) / stride + 1, wo = (wd + pad.Left + pad.Right - kw) / stride + 1;
        Require(nameof(Conv2dBackwardInput), w.Shape[1] == c && dy.Shape[0] == n && dy.Shape[1] == o && dy.Shape[2] == ho
            && dy.Shape[3] == wo, dy, w, dx);
        int pixels = h * wd;
        if (kh == 1 && kw == 1 && stride == 1 && pad == default)
        {
            // per image: dx [C, HW] = w^T [C, O] dy [O, HW]; w [O, C] is A stored [K = O, M = C]
            Gemm(GemmLayout.TN, c, pixels, o, Ptr(w), c, 0, Ptr(dy), pixels, (long)o * pixels, Ptr(dx), pixels, (long)c * pixels, n, 1f);
            return;
        }
        if (n == 0) return;
        int flags = pixels % 2 == 0 && Aligned(Ptr(dx), 4) ? CPair : 0;
        int splits = SplitCount((long)Blocks(pixels, GemmTile) * Blocks(c, GemmTile) * n, Blocks((long)o * kh * kw, GemmTileK), Device.MultiprocessorCount);
        var (partial, owner) = splits > 1 ? Scratch((long)n * splits * c * pixels * sizeof(float)) : (DevicePointer.Null, null);
        var grid = new Dim3((uint)Blocks(pixels, GemmTile), (uint)Blocks(c, GemmTile), (uint)(n * splits));
        _kernels.Conv2dBackwardInput.Launch(grid, GemmThreads, 0, Stream, Ptr(dy), Ptr(w), Ptr(dx),
            c, h, wd, o, kh, kw, stride, pad.Top, pad.Left, ho, wo, flags, splits, partial);
        if (splits > 1) ReduceSplits(partial, Ptr(dx), DevicePointer.Null, BiasNone, c, pixels, pixels, (long)c * pixels, splits, n);
        GC.KeepAlive(owner);
    }
}
