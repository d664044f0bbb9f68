using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cuda;
using IIP.Native;
using IIP.TestSupport.Conformance;

namespace IIP.Engine.Tests.Cuda;

/// <summary>
/// The optional cuBLAS binding (IIP.Native.CudaBlas): its GEMM in the row-major-to-column-major mapping CudaBackend uses
/// agrees with the CPU reference. Needs a GPU and cuBLAS (skipped, saying which is missing).
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class CudaBlasTests
{
    private static CudaBackend Gpu => CudaTestBackend.Instance;

    [CublasFact]
    public void GemmInTheLinearLayersMappingAgreesWithTheCpu()
    {
        using var blas = CudaBlas.TryCreate(Gpu.Device, Gpu.Stream, out string reason) ?? throw new InvalidOperationException(reason);
        // y [77, 37] = x [77, 100] w [37, 100]^T, as Linear maps it: column-major y^T = w x^T -> (T, N), m = 37, n = 77
        var x = ConformanceHarness.Normal(1, 1f, 77, 100);
        var w = ConformanceHarness.Normal(2, 0.1f, 37, 100);
        var (dx, dw, dy) = (Gpu.FromHost(x), Gpu.FromHost(w), Gpu.Allocate(77, 37));
        blas.Gemm(CudaBlas.Operation.Transpose, CudaBlas.Operation.None, 37, 77, 100, 1f, Storage(dw), 100, 0, Storage(dx), 100, 0, 0f,
            Storage(dy), CudaBlas.DataType.Float16, 37, 0, 1);
        var expected = CpuBackend.Instance.Linear(Gpu.ToHost(dx), Gpu.ToHost(dw), null);
        var comparison = ConformanceHarness.Compare("y", expected, Gpu.ToHost(dy), new Tolerance(1e-3, 1e-3, "fp16 rounding of an fp32 dot product"));
        Assert.True(comparison.Passed, comparison.Describe());
    }

    private static DevicePointer Storage(IIP.Engine.Tensors.Tensor t) => ((CudaStorage)t.Storage!).Pointer;
}
