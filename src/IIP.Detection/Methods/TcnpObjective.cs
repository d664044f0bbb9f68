using IIP.Engine.Autograd;
using IIP.Engine.Backends;
using IIP.Engine.Models.Unet;
using IIP.Engine.Tensors;

namespace IIP.Detection.Methods;

/// <summary>
/// Wen et al. (ICLR 2024) text-conditional noise prediction magnitude as a differentiable objective:
/// L(c) = ||eps(x, t, c) - eps(x, t, u)||_2 over the whole latent, with u the unconditional embedding.
/// dL/dc = J_c^T (eps_c - eps_u) / L, back-propagated through the UNet by a <see cref="GradientTape"/>.
/// </summary>
public static class TcnpObjective
{
    /// <summary>x [1, C, h, w], cond and uncond [1, S, D] -> (L, dL/dcond [1, S, D] on the host).</summary>
    public static (double Loss, Tensor Gradient) LossAndGradient(UNet2DConditionModel unet, IBackend be, Tensor x, int t, Tensor cond, Tensor uncond)
    {
        // the tape's activations and the gradient's intermediates belong to this scope; the uploads are released at the end
        using var scope = be.OpenScope();
        var xd = be.FromHost(be.ToHost(x));
        var uncondOnBackend = be.FromHost(be.ToHost(uncond));
        var features = unet.TimestepFeatures([t]);                                   // [1, C0], uploaded once for both forwards
        var epsU = be.ToHostOutOf(scope, unet.Forward(xd, features, uncondOnBackend));   // [1, C, h, w]
        var tape = new GradientTape(be);
        var context = be.FromHost(be.ToHost(cond).Clone());
        tape.Watch(context);
        var epsCDevice = unet.Forward(xd, features, context, tape);
        var epsC = be.ToHostOutOf(scope, epsCDevice);
        var diff = new Tensor(epsC.Shape);
        double sq = 0;
        for (long i = 0; i < diff.Length; i++)
        {
            float d = epsC.Data[i] - epsU.Data[i];
            diff.Data[i] = d;
            sq += (double)d * d;
        }
        double loss = Math.Sqrt(sq);
        // dL/d eps_c = (eps_c - eps_u) / L
        var seed = new Tensor(diff.Shape);
        if (loss > 0)
            for (long i = 0; i < seed.Length; i++) seed.Data[i] = (float)(diff.Data[i] / loss);
        var seedOnBackend = be.FromHost(seed);
        var gradient = be.ToHostOutOf(scope, tape.Gradient(epsCDevice, seedOnBackend, context));
        foreach (var upload in new[] { xd, uncondOnBackend, context, seedOnBackend, features }) be.Release(upload);
        return (loss, gradient);
    }

    /// <summary>L without the gradient (one batched UNet call). x [1, C, h, w] -> L.</summary>
    public static double Loss(UNet2DConditionModel unet, IBackend be, Tensor x, int t, Tensor cond, Tensor uncond)
    {
        using var scope = be.OpenScope();
        var hx = be.ToHost(x);
        var pair = be.FromHost(Tensor.ConcatBatch(hx, hx));                                             // [2, C, h, w]
        var contexts = be.FromHost(Tensor.ConcatBatch(be.ToHost(uncond), be.ToHost(cond)));             // [2, S, D]
        var features = unet.TimestepFeatures([t, t]);                                // [2, C0]
        var eps = be.ToHostOutOf(scope, unet.Forward(pair, features, contexts));
        foreach (var upload in new[] { pair, contexts, features }) be.Release(upload);
        int n = (int)hx.Length;
        double sq = 0;
        for (int i = 0; i < n; i++)
        {
            double d = eps.Data[n + i] - eps.Data[i];
            sq += d * d;
        }
        return Math.Sqrt(sq);
    }
}
