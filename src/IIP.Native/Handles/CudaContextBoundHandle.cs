using System.Runtime.InteropServices;

namespace IIP.Native;

/// <summary>
/// Base of the handles to objects that live in a context (modules, streams, events, graphs, device memory).
/// The handle holds a reference on its context so the context outlives it, and destroys the object with
/// that context current (the finalizer thread has none), restoring the thread's previous context after.
/// Release never throws: it may run on the finalizer thread or at process exit.
/// </summary>
internal abstract class CudaContextBoundHandle : SafeHandle
{
    private readonly CudaContextHandle _context;

    protected CudaContextBoundHandle(CudaContextHandle context) : base(0, ownsHandle: true) => _context = context;

    public override bool IsInvalid => handle == 0;

    public nint Value => handle;

    /// <summary>
    /// Takes ownership of <paramref name="value"/> (call once, right after the driver created it) and takes the
    /// reference on the context that <see cref="ReleaseHandle"/> gives back.
    /// </summary>
    internal void Adopt(nint value)
    {
        bool added = false;
        _context.DangerousAddRef(ref added);
        SetHandle(value);
    }

    protected abstract CudaResult Destroy(nint value);

    protected sealed override unsafe bool ReleaseHandle()
    {
        CudaResult result;
        nint previous = 0;
        nint context = _context.DangerousGetHandle();
        bool switched = Interop.CudaDriver.cuCtxGetCurrent(&previous) == CudaResult.Success && previous != context
            && Interop.CudaDriver.cuCtxSetCurrent(context) == CudaResult.Success;
        try
        {
            result = Destroy(handle);
        }
        finally
        {
            if (switched) Interop.CudaDriver.cuCtxSetCurrent(previous);
            _context.DangerousRelease();
        }
        return result is CudaResult.Success or CudaResult.Deinitialized;
    }
}

internal sealed class CudaModuleHandle(CudaContextHandle context) : CudaContextBoundHandle(context)
{
    protected override CudaResult Destroy(nint value) => Interop.CudaDriver.cuModuleUnload(value);
}

internal sealed class CudaStreamHandle(CudaContextHandle context) : CudaContextBoundHandle(context)
{
    protected override CudaResult Destroy(nint value) => Interop.CudaDriver.cuStreamDestroy(value);
}

internal sealed class CudaEventHandle(CudaContextHandle context) : CudaContextBoundHandle(context)
{
    protected override CudaResult Destroy(nint value) => Interop.CudaDriver.cuEventDestroy(value);
}

internal sealed class CudaGraphHandle(CudaContextHandle context) : CudaContextBoundHandle(context)
{
    protected override CudaResult Destroy(nint value) => Interop.CudaDriver.cuGraphDestroy(value);
}

internal sealed class CudaGraphExecHandle(CudaContextHandle context) : CudaContextBoundHandle(context)
{
    protected override CudaResult Destroy(nint value) => Interop.CudaDriver.cuGraphExecDestroy(value);
}

/// <summary>One cuMemAlloc_v2 block; the handle value is the 64-bit device address.</summary>
internal sealed class CudaDeviceMemoryHandle(CudaContextHandle context) : CudaContextBoundHandle(context)
{
    protected override CudaResult Destroy(nint value) => Interop.CudaDriver.cuMemFree((ulong)value);
}

/// <summary>One cuMemHostAlloc block of page-locked host memory; the handle value is its host address.</summary>
internal sealed unsafe class CudaPinnedHostMemoryHandle(CudaContextHandle context) : CudaContextBoundHandle(context)
{
    protected override CudaResult Destroy(nint value) => Interop.CudaDriver.cuMemFreeHost((void*)value);
}
