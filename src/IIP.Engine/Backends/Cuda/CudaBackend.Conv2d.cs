using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// Convolutions (kernels/conv2d.cu, on gemm_tile.cuh's tiles): 1x1 convolutions as GEMMs batched over images, others as
/// implicit GEMMs, forward and input gradient; with cuBLAS on, an explicit im2col and a cuBLAS GEMM where it fits.
/// CPU reference: CpuBackend.Conv2d.cs, CpuBackend.BackwardConv2d.cs.
/// </summary>
public sealed partial class CudaBackend
{
    // cuBLAS convolutions materialize im2col up to this size (SD v1.4's UNet at 64x64, batch 2: at most 141 MB); larger
    // ones (the VAE at full resolution) stay on the implicit-GEMM kernel.
    private const long Im2colBudgetBytes = 512L << 20;

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
            ReleaseScratch(colOwner);
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
        ReleaseScratch(owner);
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
        ReleaseScratch(owner);
    }
}
