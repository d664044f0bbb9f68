using IIP.Engine.Configs;
using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Models.Vae;

/// <summary>The diagonal Gaussian posterior q(z | x) of the VAE encoder: mean and log-variance [N, Cz, h, w].</summary>
public sealed record LatentPosterior(Tensor Mean, Tensor LogVar);

/// <summary>
/// diffusers AutoencoderKL. Encoder: conv_in -> DownEncoderBlock2D x L -> mid -> GroupNorm+SiLU -> conv_out
/// (2 Cz channels) -> quant_conv; mean, logvar = chunk(2), logvar clamped to [-30, 20].
/// Decoder: post_quant_conv -> conv_in -> mid -> UpDecoderBlock2D x L -> GroupNorm+SiLU -> conv_out.
/// Latents fed to the UNet are <c>ScalingFactor</c> x z.
/// </summary>
public sealed class AutoencoderKL
{
    public VaeConfig Config { get; }
    private readonly IBackend _be;

    // encoder
    private readonly Conv2d _encConvIn;
    private readonly DownEncoderBlock2D[] _encDown;
    private readonly VaeMidBlock _encMid;
    private readonly GroupNorm _encNormOut;
    private readonly Conv2d _encConvOut;
    private readonly Conv2d _quantConv;

    // decoder
    private readonly Conv2d _postQuantConv;
    private readonly Conv2d _decConvIn;
    private readonly VaeMidBlock _decMid;
    private readonly UpDecoderBlock2D[] _decUp;
    private readonly GroupNorm _decNormOut;
    private readonly Conv2d _decConvOut;

    public AutoencoderKL(IWeightSource weights, VaeConfig config, IBackend backend)
    {
        Config = config;
        _be = backend;
        var w = new ModuleWeights(weights, backend);
        int g = config.NormGroups;
        float eps = config.NormEps;
        var enc = w.Sub("encoder");
        _encConvIn = new Conv2d(enc.Sub("conv_in"));
        _encDown = Enumerable.Range(0, enc.CountChildren("down_blocks")).Select(i => new DownEncoderBlock2D(enc.Sub("down_blocks", i), g, eps)).ToArray();
        _encMid = new VaeMidBlock(enc.Sub("mid_block"), g, eps);
        _encNormOut = new GroupNorm(enc.Sub("conv_norm_out"), g, eps);
        _encConvOut = new Conv2d(enc.Sub("conv_out"));
        _quantConv = new Conv2d(w.Sub("quant_conv"));

        var dec = w.Sub("decoder");
        _postQuantConv = new Conv2d(w.Sub("post_quant_conv"));
        _decConvIn = new Conv2d(dec.Sub("conv_in"));
        _decMid = new VaeMidBlock(dec.Sub("mid_block"), g, eps);
        _decUp = Enumerable.Range(0, dec.CountChildren("up_blocks")).Select(i => new UpDecoderBlock2D(dec.Sub("up_blocks", i), g, eps)).ToArray();
        _decNormOut = new GroupNorm(dec.Sub("conv_norm_out"), g, eps);
        _decConvOut = new Conv2d(dec.Sub("conv_out"));
    }

    /// <summary>Pixels per latent cell along each side (8 for SD v1).</summary>
    public int DownsampleFactor => 1 << _encDown.Count(b => b.Downsampler is not null);

    // image [N, 3, H, W] in [-1, 1] -> posterior over z [N, Cz, H/f, W/f]
    public LatentPosterior Encode(Tensor image)
    {
        using var range = IIP.Native.Nvtx.Range("vae encode");
        if (image.Shape[2] % DownsampleFactor != 0 || image.Shape[3] % DownsampleFactor != 0)
            throw new ArgumentException($"VAE: image {image.Shape[2]}x{image.Shape[3]} must be a multiple of {DownsampleFactor} on each side");
        using var scope = _be.OpenScope();  // the posterior below is copied out of the pooled moments
        var h = _encConvIn.Forward(image);
        foreach (var block in _encDown) h = block.Forward(h);
        h = _encMid.Forward(h);
        var moments = _be.ToHost(_quantConv.Forward(_encConvOut.Forward(_encNormOut.Forward(h, silu: true)))); // [N, 2 Cz, h, w]
        int n = moments.Shape[0], cz = moments.Shape[1] / 2, hw = moments.Shape[2] * moments.Shape[3];
        var mean = new Tensor([n, cz, moments.Shape[2], moments.Shape[3]]);
        var logvar = new Tensor(mean.Shape);
        for (int i = 0; i < n; i++)
        {
            Array.Copy(moments.Data, (long)i * 2 * cz * hw, mean.Data, (long)i * cz * hw, cz * hw);
            Array.Copy(moments.Data, ((long)i * 2 + 1) * cz * hw, logvar.Data, (long)i * cz * hw, cz * hw);
        }
        for (long i = 0; i < logvar.Length; i++) logvar.Data[i] = Math.Clamp(logvar.Data[i], -30f, 20f);
        return new LatentPosterior(_be.FromHost(mean), _be.FromHost(logvar));
    }

    // z [N, Cz, h, w] (unscaled) -> image [N, 3, h f, w f], roughly in [-1, 1]
    public Tensor Decode(Tensor z)
    {
        using var range = IIP.Native.Nvtx.Range("vae decode");
        using var scope = _be.OpenScope();
        var h = _decConvIn.Forward(_postQuantConv.Forward(z));
        h = _decMid.Forward(h);
        foreach (var block in _decUp) h = block.Forward(h);
        return scope.Keep(_decConvOut.Forward(_decNormOut.Forward(h, silu: true)));
    }
}
