using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Unet;

/// <summary>
/// Sinusoidal timestep features (diffusers get_timestep_embedding, DDPM/Transformer form):
/// f_i = exp(-ln(10000) i / (half - shift)), i &lt; half = dim / 2; emb = [sin(t f), cos(t f)],
/// swapped to [cos, sin] when flip_sin_to_cos. Computed in float32 like PyTorch, sin/cos rounded from double.
/// </summary>
public static class Timesteps
{
    // timesteps [N] -> [N, dim]
    public static Tensor Embed(ReadOnlySpan<float> timesteps, int dim, bool flipSinToCos, float shift)
    {
        int half = dim / 2;
        var y = new Tensor([timesteps.Length, dim]);
        var data = y.Data;
        for (int n = 0; n < timesteps.Length; n++)
        {
            for (int i = 0; i < half; i++)
            {
                float exponent = -MathF.Log(10000f) * i / (half - shift);
                float arg = timesteps[n] * MathF.Exp(exponent);
                float s = (float)Math.Sin(arg), c = (float)Math.Cos(arg);
                data[n * dim + i] = flipSinToCos ? c : s;
                data[n * dim + half + i] = flipSinToCos ? s : c;
            }
        }
        return y;
    }
}
