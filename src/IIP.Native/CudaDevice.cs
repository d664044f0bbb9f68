using System.Text;

namespace IIP.Native;

/// <summary>
/// One CUDA device and its retained primary context. <see cref="Probe"/> tells why CUDA cannot be used
/// (no driver library, cuInit failing, no device, a device older than sm_80) without throwing; <see cref="Open"/>
/// throws instead. Every wrapper that calls the driver makes the context current on the calling thread first
/// (<see cref="MakeCurrent"/>, a thread-local compare when it already is).
/// </summary>
public sealed unsafe class CudaDevice : IDisposable
{
    /// <summary>The oldest architecture the kernels are built for (mma.sync m16n8k16 with f32 accumulators, cp.async).</summary>
    public const int MinimumComputeCapability = 80;

    // The device whose context this thread last made current (compared by reference, so a device opened
    // again after a Dispose never matches a stale entry).
    [ThreadStatic] private static CudaDevice? t_current;

    internal CudaContextHandle Context { get; }

    public int Ordinal { get; }
    public string Name { get; }
    public int ComputeCapabilityMajor { get; }
    public int ComputeCapabilityMinor { get; }

    /// <summary>Compute capability as major * 10 + minor (90 for an H100/H200, 80 for an A100).</summary>
    public int ComputeCapability => ComputeCapabilityMajor * 10 + ComputeCapabilityMinor;

    public long TotalMemoryBytes { get; }
    public int MultiprocessorCount { get; }

    /// <summary>The most shared memory one block may use after opting in (cuFuncSetAttribute).</summary>
    public int MaxSharedMemoryPerBlockOptin { get; }

    /// <summary>The driver's CUDA version as major * 1000 + minor * 10 (12040 for 12.4).</summary>
    public int DriverVersion { get; }

    private CudaDevice(int ordinal, int device, int driverVersion)
    {
        Ordinal = ordinal;
        DeviceHandle = device;
        DriverVersion = driverVersion;
        Name = ReadName(device);
        ComputeCapabilityMajor = Attribute(device, CudaDeviceAttribute.ComputeCapabilityMajor);
        ComputeCapabilityMinor = Attribute(device, CudaDeviceAttribute.ComputeCapabilityMinor);
        MultiprocessorCount = Attribute(device, CudaDeviceAttribute.MultiprocessorCount);
        MaxSharedMemoryPerBlockOptin = Attribute(device, CudaDeviceAttribute.MaxSharedMemoryPerBlockOptin);
        nuint total;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuDeviceTotalMem(&total, device));
        TotalMemoryBytes = (long)total;
        Context = CudaContextHandle.RetainPrimary(device);
    }

    internal int DeviceHandle { get; }

    /// <summary>
    /// Opens device <paramref name="ordinal"/> or returns null with the reason CUDA cannot be used here
    /// ("no CUDA driver (libcuda.so.1 not found)", "cuInit failed: CUDA_ERROR_NO_DEVICE ...", ...).
    /// </summary>
    public static CudaDevice? Probe(out string reason, int ordinal = 0)
    {
        try
        {
            return OpenChecked(ordinal, out reason);
        }
        catch (DllNotFoundException)
        {
            reason = $"no CUDA driver ({Interop.CudaDriver.LibraryDescription} not found)";
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"the CUDA driver ({Interop.CudaDriver.LibraryDescription}) is too old: {e.Message}";
        }
        catch (CudaException e)
        {
            reason = e.Message;
        }
        return null;
    }

    /// <summary>Opens device <paramref name="ordinal"/>; throws with the reason when CUDA cannot be used.</summary>
    public static CudaDevice Open(int ordinal = 0) =>
        Probe(out string reason, ordinal) ?? throw new InvalidOperationException($"CUDA is not available: {reason}");

    private static CudaDevice? OpenChecked(int ordinal, out string reason)
    {
        var init = Interop.CudaDriver.cuInit(0);
        if (init != CudaResult.Success)
        {
            var (name, text) = Interop.CudaDriver.ErrorNameAndText(init);
            reason = $"cuInit failed: {name}: {text}";
            return null;
        }
        int driverVersion, count, device;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuDriverGetVersion(&driverVersion));
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuDeviceGetCount(&count));
        if (ordinal < 0 || ordinal >= count)
        {
            reason = count == 0 ? "no CUDA device" : $"CUDA device {ordinal} requested, {count} present";
            return null;
        }
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuDeviceGet(&device, ordinal));
        int capability = 10 * Attribute(device, CudaDeviceAttribute.ComputeCapabilityMajor)
            + Attribute(device, CudaDeviceAttribute.ComputeCapabilityMinor);
        if (capability < MinimumComputeCapability)
        {
            reason = $"CUDA device {ordinal} ({ReadName(device)}) has compute capability {capability / 10}.{capability % 10}; "
                + $"the kernels need {MinimumComputeCapability / 10}.{MinimumComputeCapability % 10} or newer";
            return null;
        }
        reason = "";
        return new CudaDevice(ordinal, device, driverVersion);
    }

    private static int Attribute(int device, CudaDeviceAttribute attribute)
    {
        int value;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuDeviceGetAttribute(&value, attribute, device));
        return value;
    }

    private static string ReadName(int device)
    {
        const int Capacity = 256;
        byte* name = stackalloc byte[Capacity];
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuDeviceGetName(name, Capacity, device));
        var bytes = new ReadOnlySpan<byte>(name, Capacity);
        int end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end >= 0 ? bytes[..end] : bytes);
    }

    public int GetAttribute(CudaDeviceAttribute attribute) => Attribute(DeviceHandle, attribute);

    /// <summary>Makes this device's primary context current on the calling thread (cheap when it already is).</summary>
    public void MakeCurrent()
    {
        if (ReferenceEquals(t_current, this)) return;
        ObjectDisposedException.ThrowIf(Context.IsClosed, this);
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuCtxSetCurrent(Context.DangerousGetHandle()));
        t_current = this;
    }

    /// <summary>Blocks until all work on the device has finished; surfaces errors of earlier asynchronous launches.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuCtxSynchronize());
    }

    /// <summary>Free and total device memory in bytes (cuMemGetInfo_v2).</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        nuint free, total;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuMemGetInfo(&free, &total));
        return ((long)free, (long)total);
    }

    public override string ToString() =>
        $"{Name} (sm_{ComputeCapability}, {MultiprocessorCount} SMs, {TotalMemoryBytes / (1L << 20)} MiB, driver {DriverVersion / 1000}.{DriverVersion % 1000 / 10})";

    public void Dispose()
    {
        if (ReferenceEquals(t_current, this)) t_current = null;
        Context.Dispose();
    }
}
