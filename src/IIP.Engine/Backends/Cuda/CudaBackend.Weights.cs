using IIP.Engine.Weights;
using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// A model part's weights uploaded in one pass (<see cref="WeightUploadPlan"/>): one device allocation for all tensors;
/// tensors converted to fp16 straight from the checkpoint (<see cref="IHalfWeightSource"/>: F16 copied as is, no fp32
/// copy), in parallel, into a staging buffer of a few hundred MiB that goes over in one transfer per batch.
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>
    /// Uploads every tensor of <paramref name="source"/> and returns a source whose tensors are resident on this backend
    /// (<see cref="IResidentWeights"/>; <see cref="IWeightSource.Load"/> still reads the host copy). A source that cannot
    /// give fp16 directly is converted from its fp32 tensors.
    /// </summary>
    public ResidentWeights UploadWeights(IWeightSource source, long stagingBytes = 256L << 20)
    {
        if (_capturing) throw new InvalidOperationException($"{nameof(UploadWeights)} during graph capture");
        var plan = WeightUploadPlan.For(source, stagingBytes);
        var arena = new CudaArena(Device, Math.Max(plan.TotalBytes, CudaArena.Alignment));
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            var device = arena.Allocate(Math.Max(plan.TotalBytes, 1));
            var staging = new Half[plan.Batches.Count == 0 ? 0 : plan.Batches.Max(b => b.Bytes) / 2];
            foreach (var batch in plan.Batches)
            {
                Parallel.For(batch.FirstSlot, batch.FirstSlot + batch.SlotCount, i =>
                {
                    var slot = plan.Slots[i];
                    var destination = staging.AsSpan((int)((slot.Offset - batch.Offset) / 2), checked((int)slot.Elements));
                    if (source is IHalfWeightSource half) half.LoadHalf(slot.Name, destination);
                    else System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(source.Load(slot.Name).Data, destination);
                });
                // pageable source: the call returns once the batch is staged by the driver, so the buffer can be refilled
                Stream.CopyToDevice<Half>(staging.AsSpan(0, (int)(batch.Bytes / 2)), device + batch.Offset);
            }
            foreach (var slot in plan.Slots)
                tensors[slot.Name] = Tensor.OnDevice(slot.Shape, new CudaStorage(this, device + slot.Offset, slot.Elements, arena));
        }
        catch
        {
            arena.Dispose();
            throw;
        }
        return new ResidentWeights(this, source, tensors, plan.TotalBytes);
    }

    /// <summary>A model part's weights resident on the GPU, with the host source they came from.</summary>
    public sealed class ResidentWeights(CudaBackend backend, IWeightSource host, IReadOnlyDictionary<string, Tensor> tensors, long bytes)
        : IWeightSource, IResidentWeights
    {
        public IBackend Backend => backend;
        public long Bytes => bytes;
        public string Origin => host.Origin;
        public IReadOnlyCollection<string> Names => host.Names;
        public WeightInfo Info(string name) => host.Info(name);
        public Tensor Load(string name) => host.Load(name);

        public Tensor Resident(string name) =>
            tensors.TryGetValue(name, out var t) ? t : throw new WeightException($"{host.Origin}: missing tensor '{name}'");
    }
}
