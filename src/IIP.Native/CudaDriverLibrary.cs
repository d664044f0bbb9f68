namespace IIP.Native;

/// <summary>
/// Which file the driver API binds: libcuda.so.1 from the loader's path, or <see cref="Path"/> when it is set (a driver
/// outside the search path, or the kernel emulator of tools/cuda-emulator). The binding happens at the first driver call
/// and holds for the process, so set it before anything touches CUDA (the CLI does, from IIP_CUDA_DRIVER).
/// </summary>
public static class CudaDriverLibrary
{
    private static string? _path;
    private static bool _bound;

    /// <summary>The driver library to bind instead of libcuda.so.1; null or empty for the default.</summary>
    public static string? Path
    {
        get
        {
            _bound = true;
            return _path;
        }
        set
        {
            if (_bound && value != _path)
                throw new InvalidOperationException($"the CUDA driver library is already bound ({_path ?? "libcuda.so.1"}); set {nameof(CudaDriverLibrary)}.{nameof(Path)} before the first CUDA call");
            _path = value;
        }
    }
}
