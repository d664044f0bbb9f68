using IIP.Engine.Tensors;
using IIP.TestSupport.Conformance;

namespace IIP.Engine.Tests.Cuda;

/// <summary>Runs without a GPU: the comparison the CUDA conformance cases rely on.</summary>
public class ConformanceHarnessTests
{
    private static readonly Tolerance Tol = new(1e-3, 1e-3, "test");

    [Fact]
    public void TheCaseListBuildsWithEveryToleranceSet()
    {
        // Building the list checks each single-output case's tolerance; a list built by a static initializer placed
        // before the tolerances' initializers saw them as null (every such case failed on the first GPU run).
        var cases = ConformanceCases.All;
        Assert.True(cases.Count >= 70, $"{cases.Count} cases");
        Assert.Equal(cases.Count, cases.Select(c => c.Name).Distinct().Count());
        Assert.Contains(cases, c => c.Kernel == "elementwise.cu add_f16");
    }

    [Fact]
    public void TheSmallListCoversEveryKernelAndOpOfTheSdList()
    {
        // The emulator runs the small list on the CPU; it must exercise what the GPU list does. An op is the case name's
        // first word ("linear", "conv2d_backward_input", ...), a kernel the case's kernel column.
        var sd = ConformanceCases.All;
        var small = ConformanceCases.Small;
        Assert.Equal(small.Count, small.Select(c => c.Name).Distinct().Count());
        static string Op(ConformanceCase c) => c.Name.Split(' ')[0];
        Assert.Empty(sd.Select(c => c.Kernel).Except(small.Select(c => c.Kernel)));
        Assert.Empty(sd.Select(Op).Except(small.Select(Op)));
        Assert.Contains(small, c => c.Name.Contains("split K") && c.Name.StartsWith("conv2d_backward_input"));
        Assert.Contains(small, c => c.Name.Contains("causal") && c.Name.StartsWith("attention_backward"));
    }

    [Fact]
    public void WithinTheBoundPasses()
    {
        var e = Tensor.From([1f, -2f, 3f, 0f], 4);
        var a = Tensor.From([1.0009f, -2.001f, 3f, 0.0005f], 4);  // bounds: 1e-3 |e| + 1e-3 rms (rms = 1.87)
        var c = ConformanceHarness.Compare("y", e, a, Tol);
        Assert.True(c.Passed, c.Describe());
    }

    [Fact]
    public void TheWorstElementIsReported()
    {
        var e = Tensor.From([1f, -2f, 3f, 0f], 4);
        var a = Tensor.From([1f, -2f, 3f, 0.01f], 4);
        var c = ConformanceHarness.Compare("y", e, a, Tol);
        Assert.False(c.Passed);
        Assert.Equal(3, c.Where);
        Assert.Equal(0.01, c.Actual, 6);
        Assert.Contains("worst at flat 3", c.Describe());
    }

    [Fact]
    public void NonFiniteValuesFail()
    {
        var c = ConformanceHarness.Compare("y", Tensor.From([1f, 2f], 2), Tensor.From([1f, float.NaN], 2), Tol);
        Assert.False(c.Passed);
        Assert.Equal(1, c.NonFinite);
        Assert.Equal(1, c.Where);
    }

    [Fact]
    public void ExactToleranceRejectsAnyDifference()
    {
        var exact = new Tolerance(0, 0, "bit-exact");
        Assert.True(ConformanceHarness.Compare("y", Tensor.From([1f, 0f], 2), Tensor.From([1f, 0f], 2), exact).Passed);
        var c = ConformanceHarness.Compare("y", Tensor.From([1f, 0f], 2), Tensor.From([1f, 1e-7f], 2), exact);
        Assert.False(c.Passed);
        Assert.Equal(1, c.Where);
    }

    [Fact]
    public void InputsAreExactlyRepresentableInFp16()
    {
        var x = ConformanceHarness.Normal(3, 2f, 1000);
        Assert.All(x.Data, v => Assert.Equal(v, (float)(Half)v));
        Assert.Equal(x.Data, ConformanceHarness.Normal(3, 2f, 1000).Data);  // seeded
    }
}
