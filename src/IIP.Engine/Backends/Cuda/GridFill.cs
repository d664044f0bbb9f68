namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// How many ways to split each of <c>blocks</c> thread blocks of work so the grid fills the GPU: the kernels that split
/// (the split-K GEMM, the split group norm) are sized for two resident blocks per SM, so a grid below 2 x SMs leaves it
/// partly idle.
/// </summary>
internal static class GridFill
{
    /// <summary>
    /// Splits per block (1 = none): enough for two blocks per SM, each split keeping at least
    /// <paramref name="minUnitsPerSplit"/> of a block's <paramref name="units"/> of work, at most <paramref name="maxSplits"/>.
    /// </summary>
    public static int Splits(long blocks, long units, long minUnitsPerSplit, int maxSplits, int multiprocessors)
    {
        long target = 2L * multiprocessors;
        if (blocks >= target) return 1;
        long splits = Math.Min((target + blocks - 1) / blocks, units / minUnitsPerSplit);
        return (int)Math.Clamp(splits, 1, maxSplits);
    }
}
