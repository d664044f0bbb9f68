using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>GroupNorm (+SiLU) and LayerNorm, forward and input gradient (kernels/groupnorm.cu, kernels/layernorm.cu).</summary>
public sealed partial class CudaBackend
{
    // One block per (image, group), or per slice of one: a group of an SD v1 UNet at 64 x 64 holds 10 to 40 channels x
    // 4096 pixels.
    private const int GroupNormBlock = 512;

    /// <summary>Fewest elements one block of the split group norm sums or normalizes (4 per thread).</summary>
    private const long GroupNormMinSlice = 2048;

    private const int GroupNormMaxSplits = 16;

    /// <summary>
    /// Slices per group for the split group norm (kernels/groupnorm.cu; <see cref="GridFill"/>): enough for about two
    /// blocks per SM when the (image, group) blocks alone are fewer (the SD v1 UNet's guidance step has 2 x 32 = 64 of
    /// them for 132 SMs on an H200), none smaller than <see cref="GroupNormMinSlice"/>; 1 runs the one-block-per-group
    /// kernel.
    /// </summary>
    internal static int GroupNormSplitCount(long groupBlocks, long groupElements, int multiprocessors) =>
        GridFill.Splits(groupBlocks, groupElements, GroupNormMinSlice, GroupNormMaxSplits, multiprocessors);

    // One warp per row, 4 rows per block.
    private const int LayerNormRowsPerBlock = 4;

    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor y)
    {
        // x [N, C, *spatial], gamma [C], beta [C] -> y like x
        int n = x.Shape[0], c = x.Shape[1];
        Require(nameof(GroupNorm), x.Rank >= 2 && groups > 0 && c % groups == 0 && gamma.Length == c && beta.Length == c
            && x.Length == y.Length, x, gamma, y);
        long spatial = x.Length / ((long)n * c);
        if (x.Length == 0) return;
        long groupElements = c / groups * spatial;
        int splits = GroupNormSplitCount((long)n * groups, groupElements, Device.MultiprocessorCount);
        if (splits == 1)
        {
            _kernels.GroupNorm.Launch(n * groups, GroupNormBlock, 0, Stream,
                Ptr(x), Ptr(gamma), Ptr(beta), Ptr(y), c, groups, spatial, eps, silu ? 1 : 0);
            return;
        }
        // partial [N groups][splits][2] fp32 slice sums, then every slice normalized with its group's moments
        var (partial, owner) = Scratch((long)n * groups * splits * 2 * sizeof(float));
        int blocks = n * groups * splits;
        _kernels.GroupNormPartial.Launch(blocks, GroupNormBlock, 0, Stream, Ptr(x), groupElements, splits, partial);
        _kernels.GroupNormApply.Launch(blocks, GroupNormBlock, 0, Stream,
            Ptr(x), Ptr(gamma), Ptr(beta), Ptr(y), c, groups, spatial, eps, silu ? 1 : 0, splits, partial);
        ReleaseScratch(owner);
    }

    public void GroupNormBackward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor dy, Tensor dx)
    {
        // x, dy, dx [N, C, *spatial]; gamma, beta [C]
        int n = x.Shape[0], c = x.Shape[1];
        Require(nameof(GroupNormBackward), x.Rank >= 2 && groups > 0 && c % groups == 0 && gamma.Length == c && beta.Length == c
            && dy.Length == x.Length && dx.Length == x.Length, x, gamma, dy, dx);
        long spatial = x.Length / ((long)n * c);
        if (x.Length == 0) return;
        _kernels.GroupNormBackward.Launch(n * groups, GroupNormBlock, 0, Stream,
            Ptr(x), Ptr(gamma), Ptr(beta), Ptr(dy), Ptr(dx), c, groups, spatial, eps, silu ? 1 : 0);
    }

    public void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y)
    {
        // x [R, C], gamma [C], beta [C] -> y [R, C]
        int c = x.Dim(-1);
        Require(nameof(LayerNorm), gamma.Length == c && beta.Length == c && x.Length == y.Length, x, gamma, y);
        long rows = x.Length / c;
        if (rows == 0) return;
        _kernels.LayerNorm.Launch(Blocks(rows, LayerNormRowsPerBlock), 32 * LayerNormRowsPerBlock, 0, Stream,
            Ptr(x), Ptr(gamma), Ptr(beta), Ptr(y), rows, c, eps);
    }

    public void LayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx)
    {
        // x, dy, dx [R, C]; gamma [C]
        int c = x.Dim(-1);
        Require(nameof(LayerNormBackward), gamma.Length == c && dy.Length == x.Length && dx.Length == x.Length, x, gamma, dy, dx);
        long rows = x.Length / c;
        if (rows == 0) return;
        _kernels.LayerNormBackward.Launch(Blocks(rows, LayerNormRowsPerBlock), 32 * LayerNormRowsPerBlock, 0, Stream,
            Ptr(x), Ptr(gamma), Ptr(dy), Ptr(dx), rows, c, eps);
    }
}
