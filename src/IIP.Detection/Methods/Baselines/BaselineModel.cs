using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.Baselines;

/// <summary>
/// What every baseline needs from the loaded model, on the host: the UNet-space latent of the input, the empty-prompt
/// embedding, its conditioning and (through the model's sampler) batched noise predictions with one timestep per latent.
/// </summary>
internal static class BaselineModel
{
    /// <summary>e0 = text-encoder output for "" : [1, 77, D] (host).</summary>
    public static Tensor EmptyEmbedding(StableDiffusion model) => model.Backend.ToHost(model.EncodePrompts([""]));

    /// <summary>z0 = s * VAE mean of the input image [1, 3, S, S] -> [1, C, S/8, S/8] (host).</summary>
    public static Tensor Latent(StableDiffusion model, ScanInput input)
    {
        int size = model.NativeImageSize;
        var shape = input.Image.Shape;
        if (shape.Length != 4 || shape[0] != 1 || shape[1] != 3 || shape[2] != size || shape[3] != size)
            throw new ArgumentException($"{input.ImagePath}: image tensor is [{input.Image.ShapeText}], expected [1, 3, {size}, {size}] (the model's native size)");
        return model.Backend.ToHost(model.EncodeImage(input.Image));
    }

    /// <summary>z0 on the host after checking it is one latent with the UNet's channels: [1, C, h, w].</summary>
    public static Tensor HostLatent(StableDiffusion model, string method, Tensor z0)
    {
        var s = z0.Shape;
        if (s.Length != 4 || s[0] != 1 || s[1] != model.Unet.Config.InChannels)
            throw new ArgumentException($"{method}: latent is [{z0.ShapeText}], expected [1, {model.Unet.Config.InChannels}, h, w]");
        return model.Backend.ToHost(z0);
    }

    /// <summary>
    /// The noise prediction a baseline reads, under its <see cref="BaselineConditioning"/>, from the model's sampler
    /// (<see cref="Engine.Sampling.DdimSampler.GuidedNoise"/>): with guidance g = 1 eps(x_i, t_i, c) from one UNet call, otherwise
    /// eps_u + g (eps_c - eps_u) from one UNet call on [x; x]. x [N, C, h, w] (host), timesteps [N], uncond and cond
    /// [1, L, D] -> [N, C, h, w] (host).
    /// </summary>
    public static Tensor GuidedNoise(StableDiffusion model, Tensor x, IReadOnlyList<int> timesteps, Tensor uncond, Tensor cond, float guidance) =>
        model.Sampler.GuidedNoise(x, timesteps, uncond, cond, guidance);

    /// <summary>The conditioning embedding of a baseline for one image: e0, or the caption's (throws naming the method when there is none).</summary>
    public static Tensor Condition(StableDiffusion model, string method, BaselineConditioning conditioning, ScanInput input, Tensor empty)
    {
        if (conditioning == BaselineConditioning.Empty) return empty;
        if (string.IsNullOrWhiteSpace(input.Caption))
            throw new ArgumentException($"{method} needs the image's caption (labels file `caption` field); none given for {input.ImagePath}");
        return model.Backend.ToHost(model.EncodePrompts([input.Caption]));   // [1, L, D]
    }

    /// <summary>Throws unless every timestep is a training timestep 0 .. T-1 of this model's scheduler.</summary>
    public static void RequireTrainingTimesteps(StableDiffusion model, string method, IReadOnlyList<int> timesteps)
    {
        int total = model.Scheduler.Config.TrainTimesteps;
        if (timesteps.Count == 0)
            throw new ArgumentException($"{method}: give at least one timestep");
        foreach (int t in timesteps)
            if (t < 0 || t >= total)
                throw new ArgumentException($"{method}: timestep {t} is outside the model's training timesteps 0..{total - 1}");
    }

    /// <summary>The forward-process coefficients of diffusers' add_noise in float32: (sqrt(a_t), sqrt(1 - a_t)).</summary>
    public static (float Signal, float Noise) ForwardCoefficients(StableDiffusion model, int t)
    {
        float a = model.Scheduler.AlphasCumprod[t];
        return (MathF.Sqrt(a), MathF.Sqrt(1f - a));
    }
}
