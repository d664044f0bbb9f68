using IIP.Engine.Backends.Cuda;

namespace IIP.Engine.Tests.Cuda;

/// <summary>Runs without a GPU: how the CUDA GEMMs and convolutions choose their split-K factor (CudaBackend.Gemm.cs).</summary>
public class GemmSplitCountTests
{
    private const int H200Sms = 132;

    [Fact]
    public void ProductsThatFillTheGpuAreNotSplit()
    {
        // [2, 320, 64, 64] 3x3 forward: 32 x 3 tiles per image, 2 images = 192 < 264 blocks: split in 2
        Assert.Equal(2, CudaBackend.SplitCount(192, 90, H200Sms));
        Assert.Equal(1, CudaBackend.SplitCount(264, 90, H200Sms));
        Assert.Equal(1, CudaBackend.SplitCount(1000, 1000, H200Sms));
    }

    [Fact]
    public void TheMidBlockConvolutionIsSplitToFillTheGpu()
    {
        // [2, 1280, 8, 8] 3x3: 1 x 10 tiles x 2 images, K = 11520 = 360 k tiles: 14 splits of 26 tiles = 280 blocks
        Assert.Equal(14, CudaBackend.SplitCount(20, 360, H200Sms));
    }

    [Fact]
    public void ShortReductionsAreNotSplit()
    {
        Assert.Equal(1, CudaBackend.SplitCount(10, 10, H200Sms));   // the time embedding: K = 320
        Assert.Equal(1, CudaBackend.SplitCount(1, 15, H200Sms));    // fewer than 2 x 8 k tiles
        Assert.Equal(3, CudaBackend.SplitCount(6, 24, H200Sms));    // cross-attention to_k: K = 768, 8 tiles per split
    }

    [Fact]
    public void EverySplitHasKTilesAndTheirCountIsBounded()
    {
        for (int tiles = 1; tiles <= 300; tiles += 7)
            for (int kTiles = 1; kTiles <= 800; kTiles += 3)
            {
                int splits = CudaBackend.SplitCount(tiles, kTiles, H200Sms);
                Assert.InRange(splits, 1, 16);
                int perSplit = (kTiles + splits - 1) / splits;  // as kernels/gemm.cu divides them
                Assert.True((splits - 1) * perSplit < kTiles, $"tiles {tiles}, k tiles {kTiles}: split {splits - 1} of {splits} would be empty");
                if (splits > 1) Assert.True(perSplit >= 8, $"tiles {tiles}, k tiles {kTiles}: {perSplit} k tiles per split");
            }
    }
}
