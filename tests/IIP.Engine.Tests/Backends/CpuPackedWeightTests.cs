using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cpu.Gemm;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Backends;

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

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void LinearGegluWithAConstantWeightMatchesGegluOfTheProjection(string kernels)
    {
        // A constant weight takes the fused path (GEGLU applied to each work item's block, weight rows interleaved in half
        // panels); a plain one the projection and then Geglu. (rows, depth, D): edge tiles, several depth blocks (600 >
        // KC), 2D over NC (4160 > 4096), D = 20 (a multiple of NR / 2 for the scalar family only: the others fall back to
        // projection and Geglu), one row (dot products, never fused).
        var be = Backend(kernels);
        foreach (var (m, k, d, bias) in new[] { (77, 40, 64, true), (301, 600, 80, true), (130, 40, 2080, false), (37, 24, 20, true), (1, 32, 32, true) })
        {
            var x = TestArrays.Tensor(31, -1, 1, m, k);
            var w = TestArrays.Tensor(32, -1, 1, 2 * d, k);
            var b = bias ? TestArrays.Tensor(33, -1, 1, 2 * d) : null;
            var projected = be.Linear(x, w, b);
            var expected = be.Geglu(projected);
            var fused = be.LinearGeglu(x, w.AsConstant(), b);
            // The products and the bias's place in them are the same bit for bit; the GELU may run at another vector width
            // (the fused path works in NR / 2 features at a time), and the 8- and 16-lane and scalar erf differ by up to
            // about 3e-7 absolute, so gelu(g) by 1.5e-7 |g|, plus a few fp32 roundings: 4e-7 |hidden| (1 + |gate|).
            NumericAssert.Close($"{kernels} LinearGeglu x[{m},{k}] w[{2 * d},{k}] bias={bias}", fused.Data,
                Array.ConvertAll(expected.Data, v => (double)v),
                i => 4e-7 * Math.Abs(projected.Data[i / d * 2 * d + i % d]) * (1 + Math.Abs(projected.Data[i / d * 2 * d + d + i % d])));
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
