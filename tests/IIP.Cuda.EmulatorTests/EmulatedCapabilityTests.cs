using IIP.Engine.Backends;
using IIP.Engine.Tensors;
using IIP.TestSupport;
using IIP.Engine.Tests.Cuda;

namespace IIP.Cuda.EmulatorTests;

/// <summary>
/// What the CUDA backend offers through <see cref="IBackend"/> (typed placement, fp16 storage, graph recording, one-pass
/// weight residency), checked on the kernel emulator: the code that samples and loads asks the interface for these and
/// never names the CUDA backend.
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class EmulatedCapabilityTests
{
    private static IBackend Backend => EmulatedBackend.Instance;

    [Fact]
    public void DeviceTensorsKnowTheirStorageAndItsSize()
    {
        var t = Backend.FromHost(Tensor.From([1f, 2f, 3f, 4f, 5f, 6f], 2, 3));
        Assert.False(t.IsHost);
        var storage = Assert.IsAssignableFrom<IDeviceStorage>(t.Storage);
        Assert.Equal(Backend.Name, storage.DeviceName);
        Assert.Equal(Backend.Name, t.Placement);
        Assert.Equal(6, storage.Elements);
        Assert.Equal(12, storage.Bytes);   // fp16: 2 bytes per element
        Assert.Same(storage, t.Reshape(3, 2).Storage);   // a view shares the storage
        Assert.Equal(StoragePrecision.Fp16, Backend.Precision);
        Assert.StartsWith("IIP CUDA emulator", Backend.Description);
    }

    [Fact]
    public void ARecordedGraphReplaysOnTheInputsCurrentValues()
    {
        var recording = Assert.IsAssignableFrom<IGraphRecording>(Backend.GraphRecording);
        var a = recording.AllocateUnscoped(4);
        var b = recording.AllocateUnscoped(4);
        recording.CopyInto(Tensor.From([1f, 2f, 3f, 4f], 4), a);
        recording.CopyInto(Tensor.From([10f, 20f, 30f, 40f], 4), b);
        Tensor? sum = null;
        using var graph = recording.Record(() => sum = Backend.Add(a, b));
        graph.Replay();
        Assert.Equal([11f, 22f, 33f, 44f], Backend.ToHost(sum!).Data);
        // refill one input from the host and the other from a device tensor, then replay: the new values, the same output tensor
        recording.CopyInto(Tensor.From([-1f, -2f, -3f, -4f], 4), a);
        recording.CopyInto(Backend.FromHost(Tensor.From([0.5f, 0.5f, 0.5f, 0.5f], 4)), b);
        graph.Replay();
        Assert.Equal([-0.5f, -1.5f, -2.5f, -3.5f], Backend.ToHost(sum!).Data);   // exact in fp16
    }

    [Fact]
    public void AModelPartBecomesResidentInOnePass()
    {
        using var checkpoint = IIP.Engine.Weights.StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var resident = Backend.MakeResident(checkpoint.VaeWeights);
        var onDevice = Assert.IsAssignableFrom<IResidentWeights>(resident);
        Assert.Same(Backend, onDevice.Backend);
        string name = checkpoint.VaeWeights.Names.First();
        var tensor = onDevice.Resident(name);
        Assert.Equal(Backend.Name, tensor.Placement);
        var host = checkpoint.VaeWeights.Load(name);
        // the resident copy is the host tensor rounded to fp16 (round to nearest even)
        Assert.Equal(host.Data.Select(v => (float)(Half)v), Backend.ToHost(tensor).Data);
    }
}
