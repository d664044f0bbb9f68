using IIP.Detection.Methods;
using IIP.Engine.Autograd;
using IIP.Engine.Backends;
using IIP.Engine.Models.Unet;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.FitGain;

/// <summary>
/// The denoising loss under a prompt embedding, as a differentiable objective of the embedding:
/// L(c) = mean((eps(x_t, t, c) - n)^2) over the latent, x_t = sqrt(a_t) z0 + sqrt(1 - a_t) n (the training loss of
/// Ho et al. 2020 with text conditioning); dL/dc = J_c^T 2 (eps_c - n) / N, back-propagated through the UNet by a
/// <see cref="GradientTape"/> (as <see cref="TcnpObjective"/>).
/// </summary>
public static class DenoisingFitObjective
{
    /// <summary>x_t and n [1, C, h, w], cond [1, S, D] -> (L, dL/dcond [1, S, D] on the host).</summary>
    public static (double Loss, Tensor Gradient) LossAndGradient(UNet2DConditionModel unet, IBackend be, Tensor xt, int t, Tensor noise, Tensor cond)
    {
        using var scope = be.OpenScope();
        var x = be.FromHost(be.ToHost(xt));
        var features = unet.TimestepFeatures([t]);
        var tape = new GradientTape(be);
        var context = be.FromHost(be.ToHost(cond).Clone());
        tape.Watch(context);
        var epsDevice = unet.Forward(x, features, context, tape);
        var eps = be.ToHostOutOf(scope, epsDevice);
        var n = be.ToHost(noise);
        var seed = new Tensor(eps.Shape);
        double sum = 0;
        for (long i = 0; i < eps.Length; i++)
        {
            double d = eps.Data[i] - n.Data[i];
            sum += d * d;
            seed.Data[i] = (float)(2 * d / eps.Length);          // dL/d eps
        }
        var seedOnBackend = be.FromHost(seed);
        var gradient = be.ToHostOutOf(scope, tape.Gradient(epsDevice, seedOnBackend, context));
        foreach (var upload in new[] { x, context, seedOnBackend, features }) be.Release(upload);
        return (sum / eps.Length, gradient);
    }
}
