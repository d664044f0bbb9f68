using System.Reflection;
using System.Runtime.InteropServices;

namespace IIP.Native;

/// <summary>
/// Native declarations, one nested class per library (dotnet/runtime's interop layout). Everything here is
/// private to IIP.Native; the public surface is the wrapper types (CudaDevice, CudaModule, CudaStream, ...).
/// </summary>
internal static partial class Interop
{
    /// <summary>
    /// The CUDA driver API from libcuda.so.1 (the driver's soname; no toolkit needed at run time).
    /// Where cuda.h maps a name onto a versioned export (cuMemAlloc -> cuMemAlloc_v2, ...), the EntryPoint
    /// binds that export. Handle types: CUdevice is int; CUcontext, CUmodule, CUfunction, CUstream, CUevent,
    /// CUgraph and CUgraphExec are opaque pointers (nint); CUdeviceptr is a 64-bit address (ulong).
    /// <see cref="CudaDriverLibrary.Path"/>, when set before the first call, names the file to bind instead: a driver outside
    /// the loader's search path, or the kernel emulator (tools/cuda-emulator), which runs the kernels on the CPU.
    /// </summary>
    internal static unsafe partial class CudaDriver
    {
        internal const string Library = "libcuda.so.1";

        // Runs before the first call below binds the library (an explicit static constructor runs before any static
        // method of the type), and once: the resolver serves every DllImport of this assembly.
        static CudaDriver() => NativeLibrary.SetDllImportResolver(typeof(CudaDriver).Assembly, Resolve);

        private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
            name == Library && LibraryOverride is { } path ? NativeLibrary.Load(path) : 0;

        private static string? LibraryOverride => CudaDriverLibrary.Path is { Length: > 0 } path ? path : null;

        /// <summary>The library bound, for messages: "libcuda.so.1", or the path set in its place.</summary>
        internal static string LibraryDescription => LibraryOverride is { } path ? $"{path} (in place of {Library})" : Library;

        // --- initialization, version, devices ---
        [LibraryImport(Library)]
        internal static partial CudaResult cuInit(uint flags);

        [LibraryImport(Library)]
        internal static partial CudaResult cuDriverGetVersion(int* driverVersion);

        [LibraryImport(Library)]
        internal static partial CudaResult cuDeviceGetCount(int* count);

        [LibraryImport(Library)]
        internal static partial CudaResult cuDeviceGet(int* device, int ordinal);

        [LibraryImport(Library)]
        internal static partial CudaResult cuDeviceGetName(byte* name, int length, int device);

        [LibraryImport(Library)]
        internal static partial CudaResult cuDeviceGetAttribute(int* value, CudaDeviceAttribute attribute, int device);

        [LibraryImport(Library, EntryPoint = "cuDeviceTotalMem_v2")]
        internal static partial CudaResult cuDeviceTotalMem(nuint* bytes, int device);

        // --- primary context ---
        [LibraryImport(Library)]
        internal static partial CudaResult cuDevicePrimaryCtxRetain(nint* context, int device);

        [LibraryImport(Library, EntryPoint = "cuDevicePrimaryCtxRelease_v2")]
        internal static partial CudaResult cuDevicePrimaryCtxRelease(int device);

        [LibraryImport(Library)]
        internal static partial CudaResult cuCtxSetCurrent(nint context);

        [LibraryImport(Library)]
        internal static partial CudaResult cuCtxGetCurrent(nint* context);

        [LibraryImport(Library)]
        internal static partial CudaResult cuCtxSynchronize();

        // --- modules and kernels ---
        [LibraryImport(Library)]
        internal static partial CudaResult cuModuleLoadDataEx(nint* module, byte* image, uint optionCount,
            CudaJitOption* options, nint* optionValues);

        [LibraryImport(Library)]
        internal static partial CudaResult cuModuleUnload(nint module);

        [LibraryImport(Library)]
        internal static partial CudaResult cuModuleGetFunction(nint* function, nint module, byte* name);

        [LibraryImport(Library)]
        internal static partial CudaResult cuFuncGetAttribute(int* value, CudaFunctionAttribute attribute, nint function);

        [LibraryImport(Library)]
        internal static partial CudaResult cuFuncSetAttribute(nint function, CudaFunctionAttribute attribute, int value);

        [LibraryImport(Library)]
        internal static partial CudaResult cuLaunchKernel(nint function,
            uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
            uint sharedMemoryBytes, nint stream, nint* kernelParameters, nint* extra);

        // --- device and pinned host memory ---
        [LibraryImport(Library, EntryPoint = "cuMemAlloc_v2")]
        internal static partial CudaResult cuMemAlloc(ulong* address, nuint bytes);

        [LibraryImport(Library, EntryPoint = "cuMemFree_v2")]
        internal static partial CudaResult cuMemFree(ulong address);

        [LibraryImport(Library, EntryPoint = "cuMemGetInfo_v2")]
        internal static partial CudaResult cuMemGetInfo(nuint* free, nuint* total);

        [LibraryImport(Library)]
        internal static partial CudaResult cuMemHostAlloc(void** pointer, nuint bytes, uint flags);

        [LibraryImport(Library)]
        internal static partial CudaResult cuMemFreeHost(void* pointer);

        // --- asynchronous copies and fills (stream-ordered) ---
        [LibraryImport(Library, EntryPoint = "cuMemcpyHtoDAsync_v2")]
        internal static partial CudaResult cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream);

        [LibraryImport(Library, EntryPoint = "cuMemcpyDtoHAsync_v2")]
        internal static partial CudaResult cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream);

        [LibraryImport(Library, EntryPoint = "cuMemcpyDtoDAsync_v2")]
        internal static partial CudaResult cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream);

        [LibraryImport(Library)]
        internal static partial CudaResult cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);

        [LibraryImport(Library)]
        internal static partial CudaResult cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);

        // --- streams ---
        [LibraryImport(Library)]
        internal static partial CudaResult cuStreamCreate(nint* stream, uint flags);

        [LibraryImport(Library, EntryPoint = "cuStreamDestroy_v2")]
        internal static partial CudaResult cuStreamDestroy(nint stream);

        [LibraryImport(Library)]
        internal static partial CudaResult cuStreamSynchronize(nint stream);

        [LibraryImport(Library)]
        internal static partial CudaResult cuStreamWaitEvent(nint stream, nint cudaEvent, uint flags);

        // --- events ---
        [LibraryImport(Library)]
        internal static partial CudaResult cuEventCreate(nint* cudaEvent, uint flags);

        [LibraryImport(Library, EntryPoint = "cuEventDestroy_v2")]
        internal static partial CudaResult cuEventDestroy(nint cudaEvent);

        [LibraryImport(Library)]
        internal static partial CudaResult cuEventRecord(nint cudaEvent, nint stream);

        [LibraryImport(Library)]
        internal static partial CudaResult cuEventSynchronize(nint cudaEvent);

        [LibraryImport(Library)]
        internal static partial CudaResult cuEventQuery(nint cudaEvent);

        [LibraryImport(Library)]
        internal static partial CudaResult cuEventElapsedTime(float* milliseconds, nint start, nint end);

        // --- graphs (stream capture) ---
        [LibraryImport(Library, EntryPoint = "cuStreamBeginCapture_v2")]
        internal static partial CudaResult cuStreamBeginCapture(nint stream, CudaStreamCaptureMode mode);

        [LibraryImport(Library)]
        internal static partial CudaResult cuStreamEndCapture(nint stream, nint* graph);

        [LibraryImport(Library)]
        internal static partial CudaResult cuGraphInstantiateWithFlags(nint* graphExec, nint graph, ulong flags);

        [LibraryImport(Library)]
        internal static partial CudaResult cuGraphLaunch(nint graphExec, nint stream);

        [LibraryImport(Library)]
        internal static partial CudaResult cuGraphExecDestroy(nint graphExec);

        [LibraryImport(Library)]
        internal static partial CudaResult cuGraphDestroy(nint graph);

        // --- errors ---
        [LibraryImport(Library)]
        internal static partial CudaResult cuGetErrorName(CudaResult error, byte** text);

        [LibraryImport(Library)]
        internal static partial CudaResult cuGetErrorString(CudaResult error, byte** text);

        /// <summary>
        /// The driver's name and description of <paramref name="result"/>; falls back to the enum name when the
        /// driver does not know the code (or cannot be called).
        /// </summary>
        internal static (string Name, string Text) ErrorNameAndText(CudaResult result)
        {
            string fallback = Enum.IsDefined(result) ? $"CUDA_ERROR ({result})" : "unrecognized CUresult";
            try
            {
                byte* name = null, text = null;
                bool named = cuGetErrorName(result, &name) == CudaResult.Success && name != null;
                bool described = cuGetErrorString(result, &text) == CudaResult.Success && text != null;
                return (named ? Marshal.PtrToStringUTF8((nint)name)! : fallback,
                        described ? Marshal.PtrToStringUTF8((nint)text)! : "no description from the driver");
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return (fallback, "the CUDA driver could not be asked for a description");
            }
        }
    }
}
