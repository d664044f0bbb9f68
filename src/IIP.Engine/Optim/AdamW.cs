namespace IIP.Engine.Optim;

/// <summary>
/// AdamW (Loshchilov and Hutter 2019, decoupled weight decay) exactly as PyTorch 1.13's
/// torch.optim.AdamW single-tensor path (amsgrad = false, maximize = false). Step t = 1, 2, ...:
/// <code>
///   p  = p * (1 - lr wd)                         decoupled decay, before the moments
///   m  = b1 m + (1 - b1) g
///   v  = b2 v + (1 - b2) g^2
///   step_size = lr / (1 - b1^t)
///   denom     = sqrt(v) / sqrt(1 - b2^t) + eps   (eps added after the bias correction)
///   p  = p - step_size m / denom
/// </code>
/// i.e. p -= lr m_hat / (sqrt(v_hat) + eps). State m, v and the parameters are fp32 as in PyTorch; the scalar
/// coefficients are computed in double (Python floats) and rounded to fp32 where PyTorch passes them to a kernel.
/// </summary>
public sealed class AdamW
{
    private readonly AdamWOptions _options;
    private readonly float[] _m;   // first moment, exp_avg
    private readonly float[] _v;   // second moment, exp_avg_sq

    public AdamW(int parameterCount, AdamWOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(parameterCount);
        options.Validate();
        _options = options;
        _m = new float[parameterCount];
        _v = new float[parameterCount];
    }

    public int ParameterCount => _m.Length;

    /// <summary>Steps taken so far (PyTorch's state["step"]).</summary>
    public int StepCount { get; private set; }

    public AdamWOptions Options => _options;

    /// <summary>One update of <paramref name="parameters"/> in place from <paramref name="gradient"/> (both of ParameterCount).</summary>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradient)
    {
        if (parameters.Length != _m.Length || gradient.Length != _m.Length)
            throw new ArgumentException($"AdamW.Step: optimizer has {_m.Length} parameters, got {parameters.Length} parameters "
                + $"and {gradient.Length} gradient values");
        int t = ++StepCount;
        var o = _options;
        float decay = (float)(1 - o.LearningRate * o.WeightDecay);
        float beta1 = (float)o.Beta1, oneMinusBeta1 = (float)(1 - o.Beta1);
        float beta2 = (float)o.Beta2, oneMinusBeta2 = (float)(1 - o.Beta2);
        double biasCorrection1 = 1 - Math.Pow(o.Beta1, t), biasCorrection2 = 1 - Math.Pow(o.Beta2, t);
        float negativeStepSize = (float)-(o.LearningRate / biasCorrection1);
        float biasCorrection2Sqrt = (float)Math.Sqrt(biasCorrection2);
        float eps = (float)o.Epsilon;
        for (int i = 0; i < parameters.Length; i++)
        {
            float g = gradient[i];
            float p = parameters[i] * decay;                            // param.mul_(1 - lr * weight_decay)
            float m = _m[i] * beta1 + oneMinusBeta1 * g;                // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
            float v = _v[i] * beta2 + oneMinusBeta2 * g * g;            // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            float denom = MathF.Sqrt(v) / biasCorrection2Sqrt + eps;    // (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            parameters[i] = p + negativeStepSize * m / denom;           // param.addcdiv_(exp_avg, denom, value=-step_size)
            _m[i] = m;
            _v[i] = v;
        }
    }
}
