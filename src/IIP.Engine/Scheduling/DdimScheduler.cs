using IIP.Engine.Configs;

namespace IIP.Engine.Scheduling;

/// <summary>
/// DDIM (Song et al. 2021) with eta 0, as diffusers' DDIMScheduler, for UNets that predict the noise eps (SD v1, SD 2.x
/// base) or the velocity v = sqrt(a) eps - sqrt(1 - a) x0 (Salimans and Ho 2022; SD 2.x 768-v): the steps below take eps,
/// and <see cref="NoiseFromOutput"/> turns a v-prediction into it, eps = sqrt(a) v + sqrt(1 - a) x, with a the alpha of
/// x's own noise level (diffusers' DDIMScheduler.step for the sampling direction, DDIMInverseScheduler for inversion).
/// Notation: a(t) = alphas_cumprod[t] = prod_{s &lt;= t} (1 - beta_s);
/// scaled_linear betas = linspace(sqrt(beta_start), sqrt(beta_end), T)^2, computed in float32 like PyTorch.
/// Step (eq. 12, eta 0) from t to t_prev = t - T / steps:
///   x0 = (x_t - sqrt(1 - a(t)) eps) / sqrt(a(t));  x_prev = sqrt(a(t_prev)) x0 + sqrt(1 - a(t_prev)) eps,
/// with a(t_prev) = final_alpha = (set_alpha_to_one ? 1 : a(0)) when t_prev &lt; 0.
/// Inversion runs the same map backwards: from x at t_prev to t with eps evaluated at t.
/// </summary>
public sealed class DdimScheduler
{
    public const string Epsilon = "epsilon", VPrediction = "v_prediction";

    public SchedulerConfig Config { get; }

    /// <summary>Whether the UNet predicts the velocity v (prediction_type v_prediction) rather than the noise.</summary>
    public bool PredictsVelocity => Config.PredictionType == VPrediction;

    /// <summary>alphas_cumprod [T] (float32 values).</summary>
    public float[] AlphasCumprod { get; }

    public float FinalAlphaCumprod { get; }

    public DdimScheduler(SchedulerConfig config)
    {
        if (config.PredictionType is not (Epsilon or VPrediction))
            throw new NotSupportedException($"scheduler prediction_type '{config.PredictionType}' is not supported ({Epsilon}, {VPrediction})");
        if (config.ClipSample)
            throw new NotSupportedException("scheduler clip_sample true is not supported (SD v1.4 uses false)");
        Config = config;
        AlphasCumprod = ComputeAlphasCumprod(config);
        FinalAlphaCumprod = config.SetAlphaToOne ? 1f : AlphasCumprod[0];
    }

    private static float[] ComputeAlphasCumprod(SchedulerConfig c)
    {
        int n = c.TrainTimesteps;
        var betas = c.BetaSchedule switch
        {
            "scaled_linear" => LinspaceFloat32((float)Math.Sqrt(c.BetaStart), (float)Math.Sqrt(c.BetaEnd), n).Select(b => b * b).ToArray(),
            "linear" => LinspaceFloat32((float)c.BetaStart, (float)c.BetaEnd, n),
            _ => throw new NotSupportedException($"beta_schedule '{c.BetaSchedule}' is not supported (scaled_linear, linear)"),
        };
        var ac = new float[n];
        float prod = 1f;
        for (int i = 0; i < n; i++)
        {
            prod *= 1f - betas[i];   // torch.cumprod in float32, sequential
            ac[i] = prod;
        }
        return ac;
    }

    /// <summary>torch.linspace in float32: start + i step for the first half, end - (n - 1 - i) step after.</summary>
    private static float[] LinspaceFloat32(float start, float end, int n)
    {
        var y = new float[n];
        float step = (end - start) / (n - 1);
        int half = n / 2;
        for (int i = 0; i < n; i++)
            y[i] = i < half ? start + step * i : end - step * (n - 1 - i);
        return y;
    }

    /// <summary>"leading" spacing with steps_offset: t_k = (k * T / steps) + offset, descending (981 ... 1 for 50 steps).</summary>
    public int[] Timesteps(int steps)
    {
        if (steps < 1 || steps > Config.TrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be in 1..{Config.TrainTimesteps}");
        int ratio = Config.TrainTimesteps / steps;
        return Enumerable.Range(0, steps).Select(k => k * ratio + Config.StepsOffset).Reverse().ToArray();
    }

    public int StepRatio(int steps) => Config.TrainTimesteps / steps;

    public float Alpha(int t) => t >= 0 ? AlphasCumprod[t] : FinalAlphaCumprod;

    /// <summary>One DDIM step x_t -> x_{t - ratio}. x, eps [..] -> result [..].</summary>
    public void Step(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, int t, int ratio, Span<float> result) =>
        Transfer(x, eps, Alpha(t), Alpha(t - ratio), result);

    /// <summary>One inversion step x_{t - ratio} -> x_t with eps = eps(x_{t - ratio}, t).</summary>
    public void InvertStep(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, int t, int ratio, Span<float> result) =>
        Transfer(x, eps, Alpha(t - ratio), Alpha(t), result);

    /// <summary>
    /// The transfer of the UNet's output from level <paramref name="aFrom"/> (x's own) to <paramref name="aTo"/>: the noise's
    /// or, for a v-prediction model, the velocity's (<see cref="DdimStepCoefficients"/>).
    /// </summary>
    public DdimStepCoefficients StepCoefficients(float aFrom, float aTo) =>
        PredictsVelocity ? DdimStepCoefficients.ForVelocity(aFrom, aTo) : DdimStepCoefficients.ForNoise(aFrom, aTo);

    /// <summary>
    /// The noise eps the UNet's output stands for, for x at noise level <paramref name="alphaOfX"/>: the output itself for
    /// an epsilon model; eps = sqrt(a) v + sqrt(1 - a) x for a v-prediction model (float32 as diffusers). x, output [..] -> eps [..]
    /// (may alias output).
    /// </summary>
    public void NoiseFromOutput(ReadOnlySpan<float> x, ReadOnlySpan<float> output, float alphaOfX, Span<float> eps)
    {
        if (!PredictsVelocity)
        {
            output.CopyTo(eps);
            return;
        }
        float sqrtA = MathF.Sqrt(alphaOfX), sqrtOneMinusA = MathF.Sqrt(1f - alphaOfX);
        for (int i = 0; i < x.Length; i++) eps[i] = sqrtA * output[i] + sqrtOneMinusA * x[i];
    }

    /// <summary>
    /// The DDIM transfer between two noise levels: x0 = (x - sqrt(1 - aFrom) eps) / sqrt(aFrom);
    /// result = sqrt(aTo) x0 + sqrt(1 - aTo) eps (float32 like diffusers). x, eps [..] -> result [..] (may alias x).
    /// </summary>
    public static void Transfer(ReadOnlySpan<float> x, ReadOnlySpan<float> eps, float aFrom, float aTo, Span<float> result) =>
        DdimStepCoefficients.ForNoise(aFrom, aTo).Apply(x, eps, result);
}
