using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Models;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

/// <summary>
/// The one-pass weight upload's layout (WeightUploadPlan, used by CudaBackend.UploadWeights) and ModuleWeights taking
/// resident tensors; the upload itself is checked on a GPU (Cuda/CudaWeightUploadTests).
/// </summary>
public class WeightUploadPlanTests
{
    [Fact]
    public void SlotsAreAlignedDisjointAndInOrder()
    {
        var plan = WeightUploadPlan.Create([("a", [3]), ("b", [1000, 7]), ("c", [1]), ("d", [128, 2])], stagingBytes: 1 << 20);
        Assert.Equal(["a", "b", "c", "d"], plan.Slots.Select(s => s.Name));
        // a: 6 bytes; b: 14000 bytes from 256, ending at 14256 -> c at 14336; c: 2 bytes -> d at 14592
        Assert.Equal([0L, 256L, 14336L, 14592L], plan.Slots.Select(s => s.Offset));
        Assert.All(plan.Slots, s => Assert.Equal(0, s.Offset % WeightUploadPlan.Alignment));
        Assert.Equal(14592 + 512, plan.TotalBytes);
        Assert.Equal(7000, plan.Slots[1].Elements);
    }

    [Fact]
    public void BatchesCoverEverySlotOnceWithinTheStagingSize()
    {
        var tensors = Enumerable.Range(0, 50).Select(i => ($"t{i:D2}", new[] { 100 + 37 * i })).ToList();
        tensors.Add(("zz.big", [5000]));   // 10000 bytes: larger than the staging buffer, a batch of its own
        var plan = WeightUploadPlan.Create(tensors, stagingBytes: 4096);
        int next = 0;
        foreach (var batch in plan.Batches)
        {
            Assert.Equal(next, batch.FirstSlot);
            Assert.Equal(plan.Slots[batch.FirstSlot].Offset, batch.Offset);
            var last = plan.Slots[batch.FirstSlot + batch.SlotCount - 1];
            Assert.Equal(last.Offset + 2 * last.Elements - batch.Offset, batch.Bytes);
            Assert.True(batch.Bytes <= 4096 || batch.SlotCount == 1, $"batch at slot {batch.FirstSlot}: {batch.Bytes} bytes");
            next += batch.SlotCount;
        }
        Assert.Equal(plan.Slots.Count, next);
        Assert.Equal(10000, plan.Batches[^1].Bytes);
        Assert.True(plan.Batches.Count > 5);
    }

    [Fact]
    public void APlanForACheckpointHasEveryTensor()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var plan = WeightUploadPlan.For(checkpoint.UnetWeights);
        Assert.Equal(checkpoint.UnetWeights.Names.Count, plan.Slots.Count);
        long elements = checkpoint.UnetWeights.Names.Sum(n => Tensor.ElementCount(checkpoint.UnetWeights.Info(n).Shape));
        Assert.Equal(elements, plan.Slots.Sum(s => s.Elements));
        Assert.InRange(plan.TotalBytes, 2 * elements, 2 * elements + WeightUploadPlan.Alignment * plan.Slots.Count);
    }

    [Fact]
    public void ModuleWeightsTakeResidentTensorsOnTheirBackendOnly()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(TestPaths.TinySdDiffusers);
        var marker = Tensor.From([42f], 1);
        var resident = new FixedResident(checkpoint.UnetWeights, CpuBackend.Instance, marker);
        Assert.Equal(42f, new ModuleWeights(resident, CpuBackend.Instance)["conv_in.bias"].Data[0]);
        // another backend uploads from the host copy instead
        var other = new ModuleWeights(resident, new IIP.Engine.Diagnostics.FlopCountingBackend(CpuBackend.Instance))["conv_in.bias"];
        Assert.Equal(checkpoint.UnetWeights.Load("conv_in.bias").Data, other.Data);
    }

    private sealed class FixedResident(IWeightSource host, IBackend backend, Tensor tensor) : IWeightSource, IResidentWeights
    {
        public IBackend Backend => backend;
        public Tensor Resident(string name) => tensor;
        public string Origin => host.Origin;
        public IReadOnlyCollection<string> Names => host.Names;
        public WeightInfo Info(string name) => host.Info(name);
        public Tensor Load(string name) => host.Load(name);
    }
}
