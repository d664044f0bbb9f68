using System.Runtime.InteropServices;

namespace IIP.Native;

/// <summary>
/// A retained primary context of one device (cuDevicePrimaryCtxRetain); releasing it calls
/// cuDevicePrimaryCtxRelease_v2. Handles of objects created in the context keep it alive (DangerousAddRef).
/// </summary>
internal sealed class CudaContextHandle : SafeHandle
{
    public int Device { get; }

    private CudaContextHandle(nint context, int device) : base(0, ownsHandle: true)
    {
        SetHandle(context);
        Device = device;
    }

    public override bool IsInvalid => handle == 0;

    public static unsafe CudaContextHandle RetainPrimary(int device)
    {
        nint context;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuDevicePrimaryCtxRetain(&context, device));
        return new CudaContextHandle(context, device);
    }

    // Never throws (it may run on the finalizer thread); a driver already torn down at process exit is fine.
    protected override bool ReleaseHandle()
    {
        var result = Interop.CudaDriver.cuDevicePrimaryCtxRelease(Device);
        return result is CudaResult.Success or CudaResult.Deinitialized;
    }
}
