using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Diagnostics;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Backends;

/// <summary>
/// The capabilities <see cref="IBackend"/> offers beyond its ops, as the CPU reference answers them: host placement, fp32
/// storage, no graph recording, weights read tensor by tensor. (The CUDA backend's answers are checked on the kernel
/// emulator, IIP.Cuda.EmulatorTests/EmulatedCapabilityTests.)
/// </summary>
public class BackendCapabilityTests
{
    [Fact]
    public void TheCpuKeepsTensorsOnTheHostInFp32AndRecordsNoGraphs()
    {
        IBackend cpu = CpuBackend.Instance;
        var t = cpu.FromHost(Tensor.From([1f, 2f], 2));
        Assert.True(t.IsHost);
        Assert.Null(t.Storage);
        Assert.Equal("host", t.Placement);
        Assert.Equal(StoragePrecision.Fp32, cpu.Precision);
        Assert.Null(cpu.GraphRecording);
        Assert.Equal(cpu.Name, cpu.Description);
    }

    [Fact]
    public void TheCpuReadsWeightsFromTheirSource()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        Assert.Same(checkpoint.VaeWeights, ((IBackend)CpuBackend.Instance).MakeResident(checkpoint.VaeWeights));
    }

    [Fact]
    public void TheFp16EmulationReportsFp16Storage()
    {
        // the golden runner judges a backend by this (fp16 bounds), so the CPU's emulation of the CUDA storage must say so
        var emulation = new Fp16StorageBackend(CpuBackend.Instance);
        Assert.Equal(StoragePrecision.Fp16, ((IBackend)emulation).Precision);
        Assert.Equal(StoragePrecision.Fp32, ((IBackend)CpuBackend.Instance).Precision);
    }
}
