namespace IIP.Engine.Tests.Weights;

/// <summary>Bitwise comparison of weight tensors, with a failure message giving count, max error and first pairs.</summary>
internal static class WeightAssert
{
    public static void ExactlyEqual(string what, float[] expected, float[] actual)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        int mismatches = 0, first = -1;
        float maxError = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])) continue;
            if (first < 0) first = i;
            mismatches++;
            maxError = Math.Max(maxError, Math.Abs(expected[i] - actual[i]));
        }
        if (mismatches == 0) return;
        var pairs = string.Join(", ", Enumerable.Range(first, Math.Min(4, expected.Length - first)).Select(i => $"[{i}] {expected[i]} vs {actual[i]}"));
        Assert.Fail($"{what}: {mismatches} of {expected.Length} values differ (exact match required), max |error| {maxError}, first at {first}: {pairs}");
    }
}
