using IIP.Engine.Weights;
using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// A model part's weights uploaded in one pass (<see cref="WeightUploadPlan"/>): one device allocation for all tensors;
/// tensors converted to fp16 straight from the checkpoint (<see cref="IHalfWeightSource"/>: F16 copied as is, no fp32
/// copy), in parallel, into page-locked staging that goes over in one transfer per batch. Two staging buffers take
/// turns, so the host converts batch k + 1 while batch k crosses by DMA; a host without page-locked memory to give
/// stages in one pageable buffer instead (each copy then returns once the driver has taken the batch).
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>
    /// Uploads every tensor of <paramref name="source"/> and returns a source whose tensors are resident on this backend
    /// (<see cref="IResidentWeights"/>; <see cref="IWeightSource.Load"/> still reads the host copy). A source that cannot
    /// give fp16 directly is converted from its fp32 tensors. <paramref name="stagingBytes"/>: the host memory staged
    /// through, two page-locked buffers of half of it each (batches of half of it; a larger tensor is a batch of its own).
    /// </summary>
    public ResidentWeights UploadWeights(IWeightSource source, long stagingBytes = 256L << 20)
    {
        if (_capturing) throw new InvalidOperationException($"{nameof(UploadWeights)} during graph capture");
        var plan = WeightUploadPlan.For(source, Math.Max(stagingBytes / 2, WeightUploadPlan.Alignment));
        var arena = new CudaArena(Device, Math.Max(plan.TotalBytes, CudaArena.Alignment));
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        long batchBytes = plan.Batches.Count == 0 ? 0 : plan.Batches.Max(b => b.Bytes);
        var staging = WeightStaging.Create(Device, Stream, batchBytes);
        try
        {
            var device = arena.Allocate(Math.Max(plan.TotalBytes, 1));
            for (int k = 0; k < plan.Batches.Count; k++)
            {
                var batch = plan.Batches[k];
                var buffer = staging.Take(k, (int)(batch.Bytes / 2));   // waits for this buffer's copy of batch k - 2
                Parallel.For(batch.FirstSlot, batch.FirstSlot + batch.SlotCount, i =>
                {
                    var slot = plan.Slots[i];
                    var destination = buffer.Span.Slice((int)((slot.Offset - batch.Offset) / 2), checked((int)slot.Elements));
                    if (source is IHalfWeightSource half) half.LoadHalf(slot.Name, destination);
                    else System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(source.Load(slot.Name).Data, destination);
                });
                staging.Send(k, batch.Bytes, device + batch.Offset);
            }
            foreach (var slot in plan.Slots)
                tensors[slot.Name] = Tensor.OnDevice(slot.Shape, new CudaStorage(this, device + slot.Offset, slot.Elements, arena));
        }
        catch
        {
            try
            {
                staging.Dispose();
            }
            finally
            {
                arena.Dispose();
            }
            throw;
        }
        staging.Dispose();  // waits for the last copies
        return new ResidentWeights(this, source, tensors, plan.TotalBytes);
    }

    // The staging of UploadWeights: two page-locked buffers used in turn (batch k in buffer k % 2), each with the event
    // recorded after its copy; or one pageable array when page-locked memory is refused.
    private sealed class WeightStaging : IDisposable
    {
        private readonly CudaStream _stream;
        private readonly CudaPinnedHostMemory[] _pinned;
        private readonly CudaEvent[] _copied;
        private readonly Half[]? _pageable;

        private WeightStaging(CudaStream stream, CudaPinnedHostMemory[] pinned, CudaEvent[] copied, Half[]? pageable)
        {
            _stream = stream;
            _pinned = pinned;
            _copied = copied;
            _pageable = pageable;
        }

        public static WeightStaging Create(CudaDevice device, CudaStream stream, long bytes)
        {
            if (bytes == 0) return new WeightStaging(stream, [], [], null);
            var pinned = new List<CudaPinnedHostMemory>();
            for (int i = 0; i < 2; i++)
            {
                if (CudaPinnedHostMemory.TryAllocate(device, bytes) is { } buffer)
                {
                    pinned.Add(buffer);
                    continue;
                }
                pinned.ForEach(p => p.Dispose());
                return new WeightStaging(stream, [], [], new Half[bytes / 2]);
            }
            return new WeightStaging(stream, [.. pinned], [new CudaEvent(device), new CudaEvent(device)], null);
        }

        /// <summary>Batch <paramref name="k"/>'s buffer of <paramref name="elements"/> fp16 values, free to fill.</summary>
        public StagingBuffer Take(int k, int elements)
        {
            if (_pageable is not null) return new StagingBuffer(_pageable, null, elements);
            if (k >= 2) _copied[k % 2].Synchronize();
            return new StagingBuffer(null, _pinned[k % 2], elements);
        }

        /// <summary>Queues the copy of batch <paramref name="k"/>'s filled buffer to <paramref name="destination"/>.</summary>
        public void Send(int k, long bytes, DevicePointer destination)
        {
            if (_pageable is not null)
            {
                _stream.CopyToDevice<Half>(_pageable.AsSpan(0, (int)(bytes / 2)), destination);  // staged by the driver on return
                return;
            }
            _stream.QueueCopyToDevice(_pinned[k % 2], bytes, destination);
            _copied[k % 2].Record(_stream);
        }

        /// <summary>Waits for the copies in flight (their source must outlive them), then frees the buffers.</summary>
        public void Dispose()
        {
            if (_pinned.Length > 0) _stream.Synchronize();
            foreach (var e in _copied) e.Dispose();
            foreach (var p in _pinned) p.Dispose();
        }

        /// <summary>A buffer to fill from any thread (a span cannot cross into Parallel.For's lambda).</summary>
        public readonly struct StagingBuffer(Half[]? array, CudaPinnedHostMemory? pinned, int elements)
        {
            public Span<Half> Span => array is not null ? array.AsSpan(0, elements) : pinned!.AsSpan<Half>(elements);
        }
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
