using IIP.Detection.Methods;
using IIP.Engine.Autograd;
using IIP.Engine.Backends;
using IIP.Engine.Models.Unet;
using IIP.Engine.Scheduling;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods.FitGain;

/// <summary>
/// The denoising loss under a prompt embedding, as a differentiable objective of the embedding:
/// L(c) = mean((eps(x_t, t, c) - n)^2) over the latent, x_t = sqrt(a_t) z0 + sqrt(1 - a_t) n (the training loss of
/// Ho et al. 2020 with text conditioning); dL/dc = J_c^T 2 (eps_c - n) / N, back-propagated through the UNet by a
/// <see cref="GradientTape"/> (as <see cref="TcnpObjective"/>). A v-prediction UNet's output o stands for
/// eps = sqrt(a_t) o + sqrt(1 - a_t) x_t (<see cref="DdimScheduler.NoiseFromOutput"/>), so its loss is measured on that eps,
/// as the denoising loss measures it, and dL/do = sqrt(a_t) dL/d eps. (eps - n = sqrt(a_t) (o - v) for the true velocity
/// v: the loss is a_t times the model's own training loss, so a ratio of two losses is the same in either form.)
/// </summary>
public static class DenoisingFitObjective
{
    /// <summary>x_t and n [1, C, h, w], cond [1, S, D] -> (L, dL/dcond [1, S, D] on the host).</summary>
    public static (double Loss, Tensor Gradient) LossAndGradient(UNet2DConditionModel unet, DdimScheduler scheduler, IBackend be, Tensor xt, int t,
        Tensor noise, Tensor cond)
    {
        using var scope = be.OpenScope();
        var x = be.FromHost(be.ToHost(xt));
        var features = unet.TimestepFeatures([t]);
        var tape = new GradientTape(be);
        var context = be.FromHost(be.ToHost(cond).Clone());
        tape.Watch(context);
        var outputDevice = unet.Forward(x, features, context, tape);
        var output = be.ToHostOutOf(scope, outputDevice);
        var eps = new Tensor(output.Shape);
        float alpha = scheduler.Alpha(t);
        scheduler.NoiseFromOutput(be.ToHost(xt).Data, output.Data, alpha, eps.Data);
        double outputScale = scheduler.PredictsVelocity ? Math.Sqrt(alpha) : 1;   // d eps / d output
        var n = be.ToHost(noise);
        var seed = new Tensor(eps.Shape);
        double sum = 0;
        for (long i = 0; i < eps.Length; i++)
        {
            double d = eps.Data[i] - n.Data[i];
            sum += d * d;
            seed.Data[i] = (float)(outputScale * 2 * d / eps.Length);          // dL/d output
        }
        var seedOnBackend = be.FromHost(seed);
        var gradient = be.ToHostOutOf(scope, tape.Gradient(outputDevice, seedOnBackend, context));
        foreach (var upload in new[] { x, context, seedOnBackend, features }) be.Release(upload);
        return (sum / eps.Length, gradient);
    }
}
