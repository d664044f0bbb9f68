namespace IIP.Engine.Scheduling;

/// <summary>
/// The four numbers of one DDIM transfer (Song et al. 2021, eq. 12, eta 0) applied to the UNet's prediction p, in the form
/// the fused kernels compute (kernels/ddim.cu): x0 = (x - B p) / A; y = C x0 + D p.
/// <para>For a noise prediction (p = eps): A = sqrt(aFrom), B = sqrt(1 - aFrom), C = sqrt(aTo), D = sqrt(1 - aTo).</para>
/// <para>
/// For a velocity prediction (p = v = sqrt(a) eps - sqrt(1 - a) x0, Salimans and Ho 2022; SD 2.x 768-v), with x at aFrom:
/// x0 = sqrt(aFrom) x - sqrt(1 - aFrom) v and eps = sqrt(aFrom) v + sqrt(1 - aFrom) x, so
/// y = sqrt(aTo) x0 + sqrt(1 - aTo) eps = (sqrt(aTo) sqrt(aFrom) + sqrt(1 - aTo) sqrt(1 - aFrom)) x
///   + (sqrt(1 - aTo) sqrt(aFrom) - sqrt(aTo) sqrt(1 - aFrom)) v: the same form with A = 1, B = 0 and those two sums.
/// </para>
/// The guidance and the TCNP of a guided step thus stay on the UNet's raw outputs (linear, so guiding v or eps is the same;
/// TCNP = ||v_c - v_u|| as Wen et al.'s code), and no fp16 copy of the converted noise is ever stored.
/// </summary>
public readonly record struct DdimStepCoefficients(float A, float B, float C, float D)
{
    /// <summary>The transfer of a noise prediction from level <paramref name="aFrom"/> to <paramref name="aTo"/> (square roots in fp32, as diffusers).</summary>
    public static DdimStepCoefficients ForNoise(float aFrom, float aTo) =>
        new(MathF.Sqrt(aFrom), MathF.Sqrt(1f - aFrom), MathF.Sqrt(aTo), MathF.Sqrt(1f - aTo));

    /// <summary>The transfer of a velocity prediction from level <paramref name="aFrom"/> (x's own) to <paramref name="aTo"/>.</summary>
    public static DdimStepCoefficients ForVelocity(float aFrom, float aTo)
    {
        float sFrom = MathF.Sqrt(aFrom), s1From = MathF.Sqrt(1f - aFrom), sTo = MathF.Sqrt(aTo), s1To = MathF.Sqrt(1f - aTo);
        return new(1f, 0f, sTo * sFrom + s1To * s1From, s1To * sFrom - sTo * s1From);
    }

    /// <summary>y = C (x - B p) / A + D p, elementwise in fp32. x, p [..] -> y [..] (may alias x).</summary>
    public void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> prediction, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float x0 = (x[i] - B * prediction[i]) / A;
            y[i] = C * x0 + D * prediction[i];
        }
    }
}
