using System.Runtime.InteropServices;
using IIP.Engine.Backends.Cuda;
using IIP.TestSupport;

namespace IIP.Cuda.EmulatorTests;

/// <summary>
/// The CUDA backend on the kernel emulator, shared by the tests (created once). The emulator library is found under the
/// repository root; a missing one fails the tests with the command that builds it, and never falls back to a real driver.
/// </summary>
internal static unsafe class EmulatedBackend
{
    public const string LibraryRelativePath = "build/cuda-emulator/libiip-cuda-emulator.so";

    private static readonly Lazy<CudaBackend> Shared = new(Create);

    public static CudaBackend Instance => Shared.Value;

    public static string LibraryPath => Path.Combine(TestPaths.RepoRoot, LibraryRelativePath);

    /// <summary>
    /// Runs each block's threads last to first until disposed (the emulator's iip_emulator_set_reverse_thread_order): a
    /// kernel that depends on the order threads reach shared memory between barriers gives other results.
    /// </summary>
    public static IDisposable ReverseThreadOrder()
    {
        _ = Instance;  // the emulator is loaded (the same handle as IIP.Native's)
        var library = NativeLibrary.Load(LibraryPath);
        var set = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(library, "iip_emulator_set_reverse_thread_order");
        set(1);
        return new Restore(() => set(0));
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    private static CudaBackend Create()
    {
        string path = LibraryPath;
        if (!File.Exists(path))
            throw new InvalidOperationException($"the kernel emulator {path} is missing: build it with `bash tools/cuda/build-ptx.sh`");
        // Read when IIP.Native first binds the driver, which nothing in this process has done before this point.
        IIP.Native.CudaDriverLibrary.Path = path;
        return CudaBackend.TryCreate(out string reason)
            ?? throw new InvalidOperationException($"the CUDA backend did not start on the kernel emulator {path}: {reason}");
    }
}
