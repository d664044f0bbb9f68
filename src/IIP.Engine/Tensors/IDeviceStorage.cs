namespace IIP.Engine.Tensors;

/// <summary>
/// The memory behind a tensor that lives on a device backend (the CUDA backend's <c>CudaStorage</c>): which device
/// and how much. A tensor without one lives on the host (<see cref="Tensor.IsHost"/>).
/// </summary>
public interface IDeviceStorage
{
    /// <summary>The owning backend's name, e.g. <c>cuda:0</c>.</summary>
    string DeviceName { get; }

    /// <summary>Elements stored (a reshaped view shares the storage and its count).</summary>
    long Elements { get; }

    /// <summary>Bytes of device memory the elements take as stored (2 per element for fp16).</summary>
    long Bytes { get; }
}
