namespace IIP.Native;

/// <summary>A graph recorded by stream capture (<see cref="CudaStream.BeginCapture"/> / <see cref="CudaStream.EndCapture"/>).</summary>
public sealed unsafe class CudaGraph : IDisposable
{
    private readonly CudaGraphHandle _handle;

    public CudaDevice Device { get; }

    internal CudaGraph(CudaDevice device, CudaGraphHandle handle)
    {
        Device = device;
        _handle = handle;
    }

    /// <summary>Instantiates the graph for launching (cuGraphInstantiateWithFlags, no flags).</summary>
    public CudaGraphExec Instantiate()
    {
        Device.MakeCurrent();
        var exec = new CudaGraphExecHandle(Device.Context);
        nint raw;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuGraphInstantiateWithFlags(&raw, _handle.Value, 0));
        exec.Adopt(raw);
        return new CudaGraphExec(Device, exec);
    }

    public void Dispose() => _handle.Dispose();
}

/// <summary>An instantiated graph: one launch replays all recorded kernels and copies with their recorded arguments.</summary>
public sealed class CudaGraphExec : IDisposable
{
    private readonly CudaGraphExecHandle _handle;

    public CudaDevice Device { get; }

    internal CudaGraphExec(CudaDevice device, CudaGraphExecHandle handle)
    {
        Device = device;
        _handle = handle;
    }

    /// <summary>Queues one replay on <paramref name="stream"/>.</summary>
    public void Launch(CudaStream stream)
    {
        Device.MakeCurrent();
        DriverCallCounts.GraphLaunch();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuGraphLaunch(_handle.Value, stream.Handle));
    }

    public void Dispose() => _handle.Dispose();
}
