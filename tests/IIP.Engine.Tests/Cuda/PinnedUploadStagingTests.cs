using IIP.Engine.Backends.Cuda;
using IIP.Engine.Tensors;
using IIP.Native;
using IIP.TestSupport.Conformance;

namespace IIP.Engine.Tests.Cuda;

/// <summary>
/// The page-locked staging of uploads (PinnedUploadStaging, used by CudaBackend.CopyFromHost): values arrive as their
/// fp16 rounding, a block is used again once its copy has run, and the pool keeps to its capacity. Needs a GPU (or the
/// kernel emulator).
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class PinnedUploadStagingTests
{
    private static CudaBackend Gpu => CudaTestBackend.Instance;

    [CudaTheory]
    [InlineData(1, false)]         // under SmallestUploadBytes: pageable
    [InlineData(8191, false)]
    [InlineData(8192, true)]       // 16 KiB: a 64 KiB block
    [InlineData(40_000, true)]     // 80 KB: a 128 KiB block
    [InlineData(300_000, true)]    // 600 KB: a 1 MiB block
    public void UploadsArriveAsTheirFp16Values(int elements, bool pinned)
    {
        var host = ConformanceHarness.Normal(elements, 3f, elements);
        long copies = DriverCallCounts.Now().HostToDevice;
        var device = Gpu.FromHost(host);
        Assert.Equal(1, DriverCallCounts.Now().HostToDevice - copies);   // one copy either way
        if (pinned) Assert.True(Gpu.UploadStaging.PinnedBytes >= 2L * elements, "the upload went through page-locked memory");
        Assert.Equal(host.Data.Select(v => (float)(Half)v), Gpu.ToHost(device).Data);   // exact: one fp16 rounding each way
    }

    [CudaFact]
    public void ASmallUploadIsRefusedForPageableMemory()
    {
        using var staging = new PinnedUploadStaging(Gpu.Device, Gpu.Stream, capacityBytes: 1 << 20);
        var device = Gpu.AllocateUnscoped(100);
        Assert.False(staging.TryUpload(new float[100], Pointer(device)));
        Assert.Equal(0, staging.BlockCount);
    }

    [CudaFact]
    public void AtItsMostBlocksThePoolWaitsAndMakesRoomInsteadOfGrowing()
    {
        using var staging = new PinnedUploadStaging(Gpu.Device, Gpu.Stream, capacityBytes: 1L << 30, maximumBlocks: 2);
        var device = Gpu.AllocateUnscoped(100_000);
        foreach (int elements in new[] { 8192, 40_000, 100_000 })   // 64, 128 and 256 KiB blocks: no earlier one fits
        {
            var host = ConformanceHarness.Normal(elements, 1f, elements);
            Assert.True(staging.TryUpload(host.Data, Pointer(device)));
            Assert.Equal(host.Data.Select(v => (float)(Half)v), Gpu.ToHost(device).Data.Take(elements));
        }
        Assert.Equal(1, staging.BlockCount);   // the third found two blocks, both too small: freed, one of 256 KiB made
        Assert.Equal(256L << 10, staging.PinnedBytes);
    }

    [CudaFact]
    public void ABlockIsUsedAgainOnceItsCopyHasRun()
    {
        using var staging = new PinnedUploadStaging(Gpu.Device, Gpu.Stream, capacityBytes: 1 << 20);
        var device = Gpu.AllocateUnscoped(10_000);
        for (int i = 0; i < 20; i++)
        {
            var host = ConformanceHarness.Normal(100 + i, 1f, 10_000);
            Assert.True(staging.TryUpload(host.Data, Pointer(device)));
            Gpu.Stream.Synchronize();   // the copy has run: its block is free again
            Assert.Equal(host.Data.Select(v => (float)(Half)v), Gpu.ToHost(device).Data);
        }
        Assert.Equal(1, staging.BlockCount);
        Assert.Equal(PinnedUploadStaging.MinimumBlockBytes, staging.PinnedBytes);
    }

    [CudaFact]
    public void AtItsCapacityThePoolWaitsAndMakesRoomAndRefusesAnUploadLargerThanItself()
    {
        const long capacity = 192 << 10;
        using var staging = new PinnedUploadStaging(Gpu.Device, Gpu.Stream, capacity);
        var device = Gpu.AllocateUnscoped(90_000);
        void Upload(int elements, int seed)
        {
            var host = ConformanceHarness.Normal(seed, 1f, elements);
            var destination = device.Reshape(90_000);
            Assert.True(staging.TryUpload(host.Data, Pointer(destination)));
            Assert.Equal(host.Data.Select(v => (float)(Half)v), Gpu.ToHost(destination).Data.Take(elements));
        }

        Upload(10_000, 1);   // 20 KB: a 64 KiB block
        Upload(40_000, 2);   // 80 KB: a 128 KiB block; the pool holds its 192 KiB capacity
        Assert.Equal(capacity, staging.PinnedBytes);
        Upload(60_000, 3);   // 120 KB: the 128 KiB block again
        Assert.Equal(2, staging.BlockCount);
        Upload(90_000, 4);   // 180 KB: no block fits and none more fits in the capacity: both freed, one of 192 KiB made
        Assert.Equal(1, staging.BlockCount);
        Assert.Equal(capacity, staging.PinnedBytes);

        var tooLarge = new float[100_000];   // 200 KB > 192 KiB
        Assert.False(staging.TryUpload(tooLarge, Pointer(device)));
        Assert.Equal(capacity, staging.PinnedBytes);
    }

    [CudaFact]
    public void APinnedBlockRefusesASpanLargerThanItself()
    {
        using var memory = CudaPinnedHostMemory.Allocate(Gpu.Device, 1024);
        Assert.Equal(512, memory.AsSpan<Half>(512).Length);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => memory.AsSpan<Half>(513));
        Assert.Contains("exceed the block's 1024 bytes", e.Message);
    }

    private static DevicePointer Pointer(Tensor device) => ((CudaStorage)device.Storage!).Pointer;
}
