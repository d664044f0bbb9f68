using IIP.Engine.Configs;
using IIP.Engine.Scheduling;

namespace IIP.Engine.Tests.Sampling;

/// <summary>
/// v-prediction (Salimans and Ho 2022): v = sqrt(a) eps - sqrt(1 - a) x0 for x = sqrt(a) x0 + sqrt(1 - a) eps, so
/// eps = sqrt(a) v + sqrt(1 - a) x. The scheduler turns a v model's output into the noise its steps take.
/// </summary>
public class VPredictionTests
{
    [Fact]
    public void TheNoiseIsRecoveredFromVAndTheLatent()
    {
        var scheduler = new DdimScheduler(SchedulerConfig.StableDiffusionV14 with { PredictionType = DdimScheduler.VPrediction });
        Assert.True(scheduler.PredictsVelocity);
        var random = new Random(7);
        foreach (int t in new[] { 1, 501, 981 })
        {
            float a = scheduler.Alpha(t);
            var x0 = Enumerable.Range(0, 64).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            var eps = Enumerable.Range(0, 64).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            var x = x0.Zip(eps, (p, e) => MathF.Sqrt(a) * p + MathF.Sqrt(1 - a) * e).ToArray();
            var v = x0.Zip(eps, (p, e) => MathF.Sqrt(a) * e - MathF.Sqrt(1 - a) * p).ToArray();
            var recovered = new float[64];
            scheduler.NoiseFromOutput(x, v, a, recovered);
            // a few float32 roundings of values of order 1: 1e-6 absolute
            for (int i = 0; i < 64; i++) Assert.True(Math.Abs(recovered[i] - eps[i]) < 1e-6, $"t {t} [{i}]: {recovered[i]} vs {eps[i]}");
        }
    }

    [Fact]
    public void AnEpsilonModelsOutputIsTheNoise()
    {
        var scheduler = new DdimScheduler(SchedulerConfig.StableDiffusionV14);
        Assert.False(scheduler.PredictsVelocity);
        float[] output = [0.5f, -1.25f], x = [3f, 4f], eps = new float[2];
        scheduler.NoiseFromOutput(x, output, scheduler.Alpha(501), eps);
        Assert.Equal(output, eps);
    }

    [Fact]
    public void APredictionTypeThisEngineDoesNotSampleIsRefused()
    {
        var e = Assert.Throws<NotSupportedException>(() => new DdimScheduler(SchedulerConfig.StableDiffusionV14 with { PredictionType = "sample" }));
        Assert.Contains("'sample' is not supported (epsilon, v_prediction)", e.Message);
    }
}
