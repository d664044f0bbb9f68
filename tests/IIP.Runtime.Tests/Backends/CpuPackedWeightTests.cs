using IIP.Runtime.Backends;
using IIP.Runtime.Backends.Cpu;
using IIP.Runtime.Backends.Cpu.Gemm;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Tests.Backends;

/// <summary>
/// Model weights packed in advance (<see cref="Tensor.IsConstant"/>, <see cref="CpuPackedWeights"/>): Linear and Conv2d
/// with a constant weight give bitwise the results of the same weight packed per call (the kernels add the same terms in
/// the same order; only where the panels come from differs), on every micro-kernel family, at sizes with edge tiles,
/// several depth blocks and several row and column blocks. CpuMatmulOpTests holds the per-call path to the reference.
/// </summary>
public sealed class CpuPackedWeightTests
{
    public static TheoryData<string> KernelSets() => CpuGemmTests.KernelSets();

    private static CpuBackend Backend(string kernels) => CpuGemmTests.Backend(kernels);

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void LinearWithAConstantWeightEqualsThePackedPerCallResult(string kernels)
    {
        var be = Backend(kernels);
        // (rows, depth, outputs): edge tiles on both sides, depth over KC (several depth blocks), outputs over NC (4096).
        foreach (var (m, k, n) in new[] { (3, 5, 7), (77, 768, 320), (301, 600, 70), (130, 40, 4100) })
        {
            var x = TestArrays.Tensor(1, -1, 1, m, k);
            var w = TestArrays.Tensor(2, -1, 1, n, k);
            var b = TestArrays.Tensor(3, -1, 1, n);
            var plain = be.Linear(x, w, b);
            var packed = be.Linear(x, w.AsConstant(), b);
            Assert.True(plain.Data.AsSpan().SequenceEqual(packed.Data), $"{kernels} Linear x[{m},{k}] w[{n},{k}]: packed weights differ");
        }
    }

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void Conv2dWithAConstantWeightEqualsThePackedPerCallResult(string kernels)
    {
        var be = Backend(kernels);
        // (batch, in, size, out, kernel, stride): 3x3 with depth over KC, pointwise, stride 2, out channels over the row block.
        foreach (var (n, c, size, o, kernel, stride) in new[] { (2, 48, 12, 150, 3, 1), (2, 6, 7, 9, 1, 1), (1, 5, 13, 7, 3, 2), (1, 3, 4, 4200, 1, 1) })
        {
            var x = TestArrays.Tensor(11, -1, 1, n, c, size, size);
            var w = TestArrays.Tensor(12, -1, 1, o, c, kernel, kernel);
            var b = TestArrays.Tensor(13, -1, 1, o);
            var pad = Padding2d.Same(kernel / 2);
            var plain = be.Conv2d(x, w, b, stride, pad);
            var packed = be.Conv2d(x, w.AsConstant(), b, stride, pad);
            Assert.True(plain.Data.AsSpan().SequenceEqual(packed.Data), $"{kernels} Conv2d x[{n},{c},{size},{size}] w[{o},{c},{kernel},{kernel}] stride {stride}: packed weights differ");
        }
    }

    [Fact]
    public void AConstantWeightIsPackedOnceAndReadFromItsPanels()
    {
        // The contract of AsConstant: the values never change. Writing the plain copy afterwards shows where a product
        // reads from: the panels packed at the first call (unchanged result), not the plain copy.
        var be = new CpuBackend();
        var x = TestArrays.Tensor(21, -1, 1, 50, 64);
        var w = TestArrays.Tensor(22, -1, 1, 40, 64).AsConstant();
        var first = be.Linear(x, w, null).Data.ToArray();
        w.Data.AsSpan().Fill(0f);
        var second = be.Linear(x, w, null).Data;
        if (CpuPackedWeights.Enabled)
            Assert.Equal(first, second);
        else
            Assert.All(second, v => Assert.Equal(0f, v));   // IIP_CPU_PACKED_WEIGHTS=0: every call packs the plain copy
    }
}
