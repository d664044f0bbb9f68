using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cuda;
using IIP.Engine.Tensors;
using IIP.Native;
using IIP.TestSupport.Conformance;

namespace IIP.Engine.Tests.Cuda;

/// <summary>The CUDA runtime around the kernels: transfers, memory lifetimes, graphs, events. Needs a GPU (or the kernel emulator).</summary>
[Collection(CudaTestBackend.Collection)]
public class CudaRuntimeTests
{
    private static CudaBackend Gpu => CudaTestBackend.Instance;

    [CudaFact]
    public void RoundTripRoundsToFp16()
    {
        // values exactly representable in fp16 come back unchanged; others come back as (float)(Half)v
        var host = Tensor.From([1f, -2.5f, 65504f, 1e-8f, 0.1f, 3.14159265f], 6);
        var back = Gpu.ToHost(Gpu.FromHost(host));
        Assert.Equal(host.Data.Select(v => (float)(Half)v), back.Data);
    }

    [CudaFact]
    public void HostTensorsAreRejectedByName()
    {
        var host = Tensor.Zeros(4);
        var e = Assert.Throws<ArgumentException>(() => Gpu.Add(host, host, Gpu.Allocate(4)));
        Assert.Contains("on the host", e.Message);
        Assert.Contains("FromHost", e.Message);
    }

    [CudaFact]
    public void ShapeErrorsNameTheOp()
    {
        var e = Assert.Throws<ArgumentException>(() => Gpu.Add(Gpu.Allocate(4), Gpu.Allocate(5), Gpu.Allocate(4)));
        Assert.StartsWith("Add: incompatible shapes [4], [5], [4]", e.Message);
    }

    [CudaFact]
    public void ReshapedTensorsShareStorage()
    {
        var x = Gpu.FromHost(ConformanceHarness.Normal(1, 1f, 2, 3, 4));
        var y = x.Reshape(6, 4);
        Assert.Same(x.Storage, y.Storage);
        Assert.Equal(Gpu.ToHost(x).Data, Gpu.ToHost(y).Data);
    }

    [CudaFact]
    public void CollectedTensorsReturnTheirBlocksToThePool()
    {
        // a block freed by the collector is reused: allocating the same size again does not grow the pool
        AllocateAndDrop(1 << 22);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long reserved = Gpu.PoolMemory.Reserved;
        AllocateAndDrop(1 << 22);
        Assert.Equal(reserved, Gpu.PoolMemory.Reserved);
    }

    private static void AllocateAndDrop(int elements) => Gpu.Allocate(elements);

    [CudaFact]
    public void AClosedScopeReturnsItsOutputsAtOnceAndKeepsWhatWasKept()
    {
        // with no collection in between, a second scope of the same allocations is served from the blocks the first
        // returned on closing; the kept tensor keeps its block and its values
        var host = ConformanceHarness.Normal(11, 1f, 1 << 20);
        Tensor kept;
        using (var scope = Gpu.OpenScope())
        {
            for (int i = 0; i < 4; i++) Gpu.Allocate(1 << 21);
            kept = scope.Keep(Gpu.Scale(Gpu.FromHost(host), 2f));
        }
        long reserved = Gpu.PoolMemory.Reserved;
        using (Gpu.OpenScope())
            for (int i = 0; i < 4; i++) Gpu.Allocate(1 << 21);
        Assert.Equal(reserved, Gpu.PoolMemory.Reserved);
        Assert.Equal(host.Data.Select(v => (float)(Half)(2 * (float)(Half)v)), Gpu.ToHost(kept).Data);
    }

    [CudaFact]
    public void GraphReplayRecomputesFromTheInputsCopiedIn()
    {
        // record y = silu(x) + x once; replay with two different inputs copied into the captured x
        var x = Gpu.Allocate(2, 320, 8, 8);
        Tensor? y = null;
        using var graph = Gpu.Capture(() => y = Gpu.Add(Gpu.Silu(x), x));
        foreach (int seed in new[] { 5, 6 })
        {
            var input = ConformanceHarness.Normal(seed, 2f, 2, 320, 8, 8);
            Gpu.CopyFromHost(input, x);
            graph.Replay();
            var expected = CpuBackend.Instance.Add(CpuBackend.Instance.Silu(input), input);
            var got = Gpu.ToHost(y!);
            var c = ConformanceHarness.Compare($"replay {seed}", expected, got, new Tolerance(2e-3, 1e-4, "two fp16 roundings"));
            Assert.True(c.Passed, c.Describe());
        }
        Assert.True(graph.Arena.BytesInUse > 0, "the captured activations live in the graph's arena");
    }

    [CudaFact]
    public void HostTransfersAreRefusedDuringCapture()
    {
        var x = Gpu.Allocate(16);
        var e = Assert.Throws<InvalidOperationException>(() => Gpu.Capture(() => Gpu.ToHost(x)));
        Assert.Contains("capture", e.Message);
        Gpu.Synchronize();  // the stream is usable after the aborted capture
    }

    [CudaFact]
    public void ArenaScopesAllocateFromTheArena()
    {
        using var arena = new CudaArena(Gpu.Device, 1 << 20);
        Tensor t;
        using (Gpu.UseArena(arena)) t = Gpu.Allocate(1000);
        Assert.Same(arena, ((CudaStorage)t.Storage!).Owner);
        Assert.Equal(2048, arena.BytesInUse);  // 2000 bytes rounded to the 256-byte alignment
        Assert.IsType<CudaPooledBuffer>(((CudaStorage)Gpu.Allocate(10).Storage!).Owner);
        var first = arena.Allocate(100);
        arena.Reset();
        Assert.Equal(((CudaStorage)t.Storage!).Pointer, arena.Allocate(100));  // same sequence, same addresses after a reset
        Assert.NotEqual(first, arena.Allocate(100));
    }

    [CudaFact]
    public void EventsTimeQueuedWork()
    {
        using var start = new CudaEvent(Gpu.Device, timing: true);
        using var end = new CudaEvent(Gpu.Device, timing: true);
        var x = Gpu.Allocate(1 << 20);
        start.Record(Gpu.Stream);
        for (int i = 0; i < 10; i++) Gpu.Silu(x, x);
        end.Record(Gpu.Stream);
        end.Synchronize();
        Assert.True(end.IsComplete);
        Assert.InRange(CudaEvent.ElapsedMilliseconds(start, end), 0f, 10_000f);
    }
}
