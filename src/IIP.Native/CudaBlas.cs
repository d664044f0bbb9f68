using System.Runtime.InteropServices;

namespace IIP.Native;

/// <summary>
/// Optional cuBLAS (fp16 GEMMs with fp32 accumulation through cublasGemmStridedBatchedEx), bound at run time: the
/// engine's own kernels do every product without it. <see cref="TryCreate"/> probes libcublas.so.13, then .12 (on the
/// loader's path, or in the folder given: the CLI's IIP_CUBLAS_DIR), creates a handle on the device's primary context and
/// sets its stream and a workspace of our own (so graph capture never waits on cuBLAS's allocator).
/// Row-major callers: C [M, N] = op(A) op(B) row-major is C^T = op(B)^T op(A)^T column-major; <see cref="Gemm"/> takes
/// the column-major view, and CudaBackend does the swap.
/// </summary>
public sealed unsafe class CudaBlas : IDisposable
{
    /// <summary>cublasOperation_t.</summary>
    public enum Operation { None = 0, Transpose = 1 }

    /// <summary>cudaDataType_t values used here.</summary>
    public enum DataType { Float32 = 0, Float16 = 2 }

    private const int ComputeFloat32 = 68;   // CUBLAS_COMPUTE_32F
    private const int GemmDefault = -1;      // CUBLAS_GEMM_DEFAULT (tensor cores are used for fp16 inputs)
    private const long WorkspaceBytes = 32L << 20;

    private readonly delegate* unmanaged<nint, Operation, Operation, int, int, int, float*, ulong, DataType, int, long, ulong, DataType, int,
        long, float*, ulong, DataType, int, long, int, int, int, int> _gemmStridedBatched;
    private readonly delegate* unmanaged<nint, int> _destroy;
    private readonly delegate* unmanaged<int, byte*> _statusName;
    private readonly CudaDeviceMemory _workspace;
    private nint _handle;

    /// <summary>The library that was loaded (its file name).</summary>
    public string Library { get; }

    public CudaDevice Device { get; }

    private CudaBlas(CudaDevice device, string library, nint module, nint handle, CudaStream stream)
    {
        Device = device;
        Library = library;
        _handle = handle;
        _gemmStridedBatched = (delegate* unmanaged<nint, Operation, Operation, int, int, int, float*, ulong, DataType, int, long, ulong, DataType,
            int, long, float*, ulong, DataType, int, long, int, int, int, int>)NativeLibrary.GetExport(module, "cublasGemmStridedBatchedEx");
        _destroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(module, "cublasDestroy_v2");
        _statusName = NativeLibrary.TryGetExport(module, "cublasGetStatusName", out var name) ? (delegate* unmanaged<int, byte*>)name : null;
        var setStream = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(module, "cublasSetStream_v2");
        var setWorkspace = (delegate* unmanaged<nint, ulong, nuint, int>)NativeLibrary.GetExport(module, "cublasSetWorkspace_v2");
        _workspace = CudaDeviceMemory.Allocate(device, WorkspaceBytes);
        ThrowIfFailed(setStream(handle, stream.Handle), "cublasSetStream_v2");
        ThrowIfFailed(setWorkspace(handle, _workspace.Pointer.Address, (nuint)WorkspaceBytes), "cublasSetWorkspace_v2");
    }

    /// <summary>The library names probed, newest first.</summary>
    public static IReadOnlyList<string> LibraryNames { get; } = ["libcublas.so.13", "libcublas.so.12"];

    /// <summary>
    /// cuBLAS on <paramref name="device"/> with its work on <paramref name="stream"/>, or null with the reason (no library
    /// found, a symbol missing, cublasCreate failing). <paramref name="folder"/>: where to look instead of the loader's path.
    /// </summary>
    public static CudaBlas? TryCreate(CudaDevice device, CudaStream stream, out string reason, string? folder = null)
    {
        foreach (string name in LibraryNames)
        {
            string path = string.IsNullOrEmpty(folder) ? name : Path.Combine(folder, name);
            if (!NativeLibrary.TryLoad(path, out var module)) continue;
            if (!NativeLibrary.TryGetExport(module, "cublasCreate_v2", out var createExport))
            {
                reason = $"{path} has no cublasCreate_v2";
                return null;
            }
            device.MakeCurrent();
            nint handle;
            int status = ((delegate* unmanaged<nint*, int>)createExport)(&handle);
            if (status != 0)
            {
                reason = $"cublasCreate_v2 failed with status {status} ({path})";
                return null;
            }
            try
            {
                reason = "";
                return new CudaBlas(device, path, module, handle, stream);
            }
            catch (Exception e) when (e is EntryPointNotFoundException or CudaException or InvalidOperationException)
            {
                if (NativeLibrary.TryGetExport(module, "cublasDestroy_v2", out var destroy)) ((delegate* unmanaged<nint, int>)destroy)(handle);
                reason = $"{path}: {e.Message}";
                return null;
            }
        }
        reason = $"none of {string.Join(", ", LibraryNames)} found{(string.IsNullOrEmpty(folder) ? "" : $" in {folder}")}";
        return null;
    }

    /// <summary>
    /// Column-major C (m x n, ldc) = alpha op(A) op(B) + beta C for each of <paramref name="batch"/> items, strides in
    /// elements; A and B fp16, accumulation fp32, C fp16 or fp32 (<paramref name="cType"/>), queued on the stream.
    /// </summary>
    public void Gemm(Operation opA, Operation opB, int m, int n, int k, float alpha, DevicePointer a, int lda, long strideA,
        DevicePointer b, int ldb, long strideB, float beta, DevicePointer c, DataType cType, int ldc, long strideC, int batch)
    {
        ObjectDisposedException.ThrowIf(_handle == 0, this);
        Device.MakeCurrent();
        int status = _gemmStridedBatched(_handle, opA, opB, m, n, k, &alpha, a.Address, DataType.Float16, lda, strideA,
            b.Address, DataType.Float16, ldb, strideB, &beta, c.Address, cType, ldc, strideC, batch, ComputeFloat32, GemmDefault);
        ThrowIfFailed(status, $"cublasGemmStridedBatchedEx({opA}, {opB}, m {m}, n {n}, k {k}, batch {batch})");
    }

    private void ThrowIfFailed(int status, string call)
    {
        if (status == 0) return;
        string name = _statusName != null ? Marshal.PtrToStringUTF8((nint)_statusName(status)) ?? "" : "";
        throw new InvalidOperationException($"{call} failed: cuBLAS status {status} {name} ({Library})");
    }

    public void Dispose()
    {
        if (_handle == 0) return;
        Device.MakeCurrent();
        _destroy(_handle);
        _handle = 0;
        _workspace.Dispose();
    }
}
