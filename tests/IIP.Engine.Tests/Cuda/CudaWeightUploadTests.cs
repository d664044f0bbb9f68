using IIP.Engine.Backends.Cuda;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Cuda;

/// <summary>CudaBackend.UploadWeights: a model part in one device allocation, each tensor its fp16 value. Needs a GPU.</summary>
[Collection(CudaTestBackend.Collection)]
public class CudaWeightUploadTests
{
    private static CudaBackend Gpu => CudaTestBackend.Instance;

    [CudaTheory]
    [InlineData(256L << 20)]   // the default: tiny-sd's UNet in one batch
    [InlineData(4096L)]        // many batches, and tensors larger than the staging buffer
    public void EveryTensorArrivesAsItsFp16Value(long stagingBytes)
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var resident = Gpu.UploadWeights(checkpoint.UnetWeights, stagingBytes);
        Assert.Equal(WeightUploadPlan.For(checkpoint.UnetWeights).TotalBytes, resident.Bytes);
        foreach (string name in checkpoint.UnetWeights.Names)
        {
            var expected = checkpoint.UnetWeights.Load(name).Data.Select(v => (float)(Half)v);
            Assert.Equal(expected, Gpu.ToHost(resident.Resident(name)).Data);
        }
    }
}
