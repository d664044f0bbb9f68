using IIP.TestSupport.Conformance;

namespace IIP.Engine.Tests.Cuda;

/// <summary>
/// Every CUDA op against the CPU reference at SD v1.4 shapes (the case list and each case's tolerance and its reason
/// are in Conformance/ConformanceCases*.cs; tools/gpu-check runs the same list with timings).
/// </summary>
[Collection(CudaTestBackend.Collection)]
public class CudaConformanceTests
{
    public static TheoryData<string> CaseNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var c in ConformanceCases.All) data.Add(c.Name);
            return data;
        }
    }

    [CudaTheory]
    [MemberData(nameof(CaseNames))]
    public void MatchesCpuReference(string caseName)
    {
        var result = ConformanceCases.ByName(caseName).Run(CudaTestBackend.Instance, new ConformanceOptions());
        Assert.True(result.Passed, result.Report());
    }

    [Fact]
    public void CaseNamesAreUnique()
    {
        var duplicates = ConformanceCases.All.GroupBy(c => c.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, "duplicate case names: " + string.Join("; ", duplicates));
    }
}
