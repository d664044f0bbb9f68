using System.Runtime.CompilerServices;
using IIP.Engine.Backends.Cuda;
using IIP.Native;

namespace IIP.Engine.Tests.Cuda;

/// <summary>Runs without a GPU: argument marshalling, pool size classes, error messages, the device probe.</summary>
public class NativeInteropTests
{
    [Fact]
    public unsafe void KernelArgumentsAreEightByteSlotsWithTheValueInTheLowBytes()
    {
        Assert.Equal(8, sizeof(KernelArgument));
        KernelArgument i = -2, f = 1.5f, l = 1L << 40, p = new DevicePointer(0xdeadbeef00);
        Assert.Equal(unchecked((uint)-2), *(uint*)&i);     // an int parameter reads the low 4 bytes
        Assert.Equal(0u, ((uint*)&i)[1]);
        Assert.Equal(1.5f, *(float*)&f);
        Assert.Equal(1L << 40, *(long*)&l);
        Assert.Equal(0xdeadbeef00UL, *(ulong*)&p);
    }

    [Theory]
    [InlineData(1, 512)]
    [InlineData(512, 512)]
    [InlineData(513, 1024)]
    [InlineData(600_000, 1 << 20)]
    [InlineData((1 << 20) + 1, 2 << 20)]
    [InlineData(5_000_000, 6 << 20)]
    public void PoolSizeClasses(long bytes, long expected) => Assert.Equal(expected, CudaMemoryPool.SizeClass(bytes));

    [Fact]
    public void CudaExceptionNamesTheCallAndTheResult()
    {
        var e = Assert.Throws<CudaException>(() => CudaException.ThrowIfFailed(FakeCall(CudaResult.OutOfMemory)));
        Assert.Equal(CudaResult.OutOfMemory, e.Result);
        Assert.Equal("FakeCall(CudaResult.OutOfMemory)", e.Call);
        Assert.Contains("FakeCall(CudaResult.OutOfMemory) failed", e.Message);
        Assert.Contains("(2)", e.Message);
        CudaException.ThrowIfFailed(FakeCall(CudaResult.Success));
    }

    private static CudaResult FakeCall(CudaResult result) => result;

    [Fact]
    public void ProbeGivesADeviceOrAReason()
    {
        using var device = CudaDevice.Probe(out string reason);
        if (device is null)
        {
            Assert.False(string.IsNullOrWhiteSpace(reason));
        }
        else
        {
            Assert.Equal("", reason);
            Assert.True(device.ComputeCapability >= CudaDevice.MinimumComputeCapability, device.ToString());
            Assert.True(device.TotalMemoryBytes > 0 && device.MultiprocessorCount > 0, device.ToString());
        }
    }

    [Fact]
    public void BackendCreationAgreesWithTheTestSkipReason()
    {
        using var backend = CudaBackend.TryCreate(out string reason);
        Assert.Equal(backend is null, CudaTestBackend.SkipReason is not null);
        if (backend is null) Assert.Contains(reason, CudaTestBackend.SkipReason);
    }

    [Fact]
    public void DimensionsConvertFromInt()
    {
        Dim3 d = 7;
        Assert.Equal(new Dim3(7, 1, 1), d);
        Assert.Equal(6UL, new Dim3(1, 2, 3).Count);
        Assert.Throws<OverflowException>(() => { Dim3 bad = -1; return bad; });
    }
}
