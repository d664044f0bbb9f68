using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// Linear layers on the tensor-core GEMM of kernels/gemm.cu: Linear and its input gradient as plain GEMMs (1x1
/// convolutions use them too: CudaBackend.Conv2d.cs), cuBLAS where it is on, and the split-K reduction.
/// </summary>
public sealed partial class CudaBackend
{
    private const int GemmTile = 128, GemmTileK = 32, GemmThreads = 256;

    // Split K: each split sums at least this many k tiles (256 of K), and a product is split at most this many ways.
    private const int MinSplitKTiles = 8, MaxSplits = 16;

    // kernels/gemm_tile.cuh flag bits (XRows: a convolution input's rows start 16-byte aligned, kernels/conv2d.cu)
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
        ReleaseScratch(owner);
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
        ReleaseScratch(owner);
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
}
