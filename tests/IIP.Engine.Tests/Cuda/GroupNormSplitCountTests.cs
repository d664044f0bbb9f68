using IIP.Engine.Backends.Cuda;

namespace IIP.Engine.Tests.Cuda;

/// <summary>Runs without a GPU: how the CUDA group norm splits its groups into slices (CudaBackend.Norms.cs).</summary>
public class GroupNormSplitCountTests
{
    private const int H200Sms = 132;

    [Fact]
    public void TheGuidanceStepsGroupsAreSplitToFillTheGpu()
    {
        // [2, 320, 64, 64], 32 groups: 64 blocks, 10 x 4096 elements each -> 5 slices (320 blocks of 8192 elements)
        Assert.Equal(5, CudaBackend.GroupNormSplitCount(64, 10 * 4096, H200Sms));
        // [1, 512, 64, 64] (the VAE at 512x512): 32 blocks of 16 x 4096 -> 9 slices
        Assert.Equal(9, CudaBackend.GroupNormSplitCount(32, 16 * 4096, H200Sms));
        // [2, 1280, 16, 16]: 40 x 256 = 10240 elements allow 5 slices of at least 2048
        Assert.Equal(5, CudaBackend.GroupNormSplitCount(64, 40 * 256, H200Sms));
    }

    [Fact]
    public void SmallGroupsAndFullGridsStayOneBlockPerGroup()
    {
        Assert.Equal(1, CudaBackend.GroupNormSplitCount(64, 40 * 64, H200Sms));     // [2, 1280, 8, 8]: 2560 elements
        Assert.Equal(1, CudaBackend.GroupNormSplitCount(264, 10 * 4096, H200Sms));  // a batch of 9 already fills it
        Assert.Equal(1, CudaBackend.GroupNormSplitCount(1, 100, H200Sms));
    }

    [Fact]
    public void SlicesAreNeverEmptyNorTooMany()
    {
        for (long blocks = 1; blocks <= 300; blocks += 11)
            for (long elements = 1; elements <= 200_000; elements = elements * 3 + 1)
            {
                int splits = CudaBackend.GroupNormSplitCount(blocks, elements, H200Sms);
                Assert.InRange(splits, 1, 16);
                if (splits > 1) Assert.True(elements / splits >= 2048, $"{blocks} groups of {elements}: {splits} slices");
            }
    }
}
