namespace IIP.Native;

/// <summary>
/// One kernel entry point of a loaded module. Launches are asynchronous on the given stream; arguments are
/// passed as pointers to values on the caller's stack (see <see cref="KernelArgument"/>), never boxed.
/// Launch failures that the driver detects at launch time throw here; faults inside the kernel surface at the
/// next synchronizing call.
/// </summary>
public sealed unsafe class CudaKernel
{
    private readonly nint _function;

    /// <summary>The module, referenced so it stays loaded while the kernel is reachable.</summary>
    public CudaModule Module { get; }

    public string Name { get; }

    internal CudaKernel(CudaModule module, string name, nint function)
    {
        Module = module;
        Name = name;
        _function = function;
    }

    public int GetAttribute(CudaFunctionAttribute attribute)
    {
        Module.Device.MakeCurrent();
        int value;
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuFuncGetAttribute(&value, attribute, _function));
        return value;
    }

    /// <summary>Allows launches with up to <paramref name="bytes"/> of dynamic shared memory (needed above 48 KiB).</summary>
    public void SetMaxDynamicSharedMemory(int bytes)
    {
        Module.Device.MakeCurrent();
        CudaException.ThrowIfFailed(Interop.CudaDriver.cuFuncSetAttribute(_function, CudaFunctionAttribute.MaxDynamicSharedSizeBytes, bytes));
    }

    /// <summary>Launches with one pointer per kernel parameter, each to a value the caller keeps alive for the call.</summary>
    public void Launch(Dim3 grid, Dim3 block, int sharedMemoryBytes, CudaStream stream, ReadOnlySpan<nint> argumentPointers)
    {
        if (grid.Count == 0 || block.Count == 0 || block.Count > 1024 || grid.Y > 65535 || grid.Z > 65535 || sharedMemoryBytes < 0)
            throw new ArgumentException($"{Name}: invalid launch grid {grid}, block {block}, shared memory {sharedMemoryBytes} bytes");
        Module.Device.MakeCurrent();
        DriverCallCounts.KernelLaunch();
        fixed (nint* pointers = argumentPointers)
        {
            CudaException.ThrowIfFailed(Interop.CudaDriver.cuLaunchKernel(_function, grid.X, grid.Y, grid.Z,
                block.X, block.Y, block.Z, (uint)sharedMemoryBytes, stream.Handle, argumentPointers.IsEmpty ? null : pointers, null),
                $"cuLaunchKernel({Name}, grid {grid}, block {block}, shared {sharedMemoryBytes})");
        }
    }

    /// <summary>Launches with the arguments in order; the span lives on the caller's stack (no boxing, no pinning).</summary>
    public void Launch(Dim3 grid, Dim3 block, int sharedMemoryBytes, CudaStream stream, params ReadOnlySpan<KernelArgument> arguments)
    {
        fixed (KernelArgument* values = arguments)
        {
            nint* pointers = stackalloc nint[Math.Max(1, arguments.Length)];
            for (int i = 0; i < arguments.Length; i++) pointers[i] = (nint)(values + i);
            Launch(grid, block, sharedMemoryBytes, stream, new ReadOnlySpan<nint>(pointers, arguments.Length));
        }
    }

    public override string ToString() => $"{Module.Name}.{Name}";
}
