using IIP.Native;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// The device buffer behind a CUDA tensor (<see cref="Tensors.Tensor.Storage"/>): fp16 elements at
/// <see cref="Pointer"/>. <see cref="Owner"/> keeps the memory alive: a pooled buffer (returned to the pool when the
/// storage is collected) or the arena of a lifetime (a captured graph, a model's weights).
/// Reshaped tensors share the storage.
/// </summary>
public sealed class CudaStorage : Tensors.IDeviceStorage
{
    public const int ElementBytes = 2;  // fp16

    public CudaBackend Backend { get; }

    public DevicePointer Pointer { get; }

    public long Elements { get; }

    /// <summary>What the memory belongs to (a <see cref="CudaPooledBuffer"/> or a <see cref="CudaArena"/>).</summary>
    public object Owner { get; }

    internal CudaStorage(CudaBackend backend, DevicePointer pointer, long elements, object owner)
    {
        Backend = backend;
        Pointer = pointer;
        Elements = elements;
        Owner = owner;
    }

    public long Bytes => Elements * ElementBytes;

    public string DeviceName => Backend.Name;

    public override string ToString() => $"{Elements} fp16 at {Pointer} on {Backend.Name}";
}
