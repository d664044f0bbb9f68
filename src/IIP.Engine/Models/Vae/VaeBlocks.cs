using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Models.Unet;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Vae;

/// <summary>UNetMidBlock2D of the VAE: resnet, attention, resnet (no time embedding).</summary>
public sealed class VaeMidBlock(ModuleWeights w, int groups, float eps)
{
    public ResnetBlock2D Resnet0 { get; } = new(w.Sub("resnets", 0), groups, eps);
    public VaeAttentionBlock Attention { get; } = new(w.Sub("attentions", 0), groups, eps);
    public ResnetBlock2D Resnet1 { get; } = new(w.Sub("resnets", 1), groups, eps);

    public Tensor Forward(Tensor h) => Resnet1.Forward(Attention.Forward(Resnet0.Forward(h, null)), null);
}

/// <summary>
/// DownEncoderBlock2D: resnets, then an optional downsampler that pads right and bottom by one and
/// applies a stride-2 3x3 conv with no padding (diffusers Downsample2D with padding 0).
/// </summary>
public sealed class DownEncoderBlock2D
{
    public ResnetBlock2D[] Resnets { get; }
    public Conv2d? Downsampler { get; }
    private readonly IBackend _be;

    public DownEncoderBlock2D(ModuleWeights w, int groups, float eps)
    {
        _be = w.Backend;
        Resnets = Enumerable.Range(0, w.CountChildren("resnets")).Select(i => new ResnetBlock2D(w.Sub("resnets", i), groups, eps)).ToArray();
        Downsampler = w.HasModule("downsamplers.0.conv")
            ? new Conv2d(w.Sub("downsamplers.0.conv"), stride: 2, new Padding2d(Top: 0, Left: 0, Bottom: 1, Right: 1))
            : null;
    }

    // [N, C, H, W] -> [N, C', H/2, W/2] (or H, W for the last block)
    public Tensor Forward(Tensor h)
    {
        using var scope = _be.OpenScope();
        foreach (var r in Resnets) h = r.Forward(h, null);
        return scope.Keep(Downsampler?.Forward(h) ?? h);
    }
}

/// <summary>UpDecoderBlock2D: resnets, then an optional nearest-2x upsample and 3x3 conv.</summary>
public sealed class UpDecoderBlock2D
{
    public ResnetBlock2D[] Resnets { get; }
    public Conv2d? Upsampler { get; }
    private readonly IBackend _be;

    public UpDecoderBlock2D(ModuleWeights w, int groups, float eps)
    {
        Resnets = Enumerable.Range(0, w.CountChildren("resnets")).Select(i => new ResnetBlock2D(w.Sub("resnets", i), groups, eps)).ToArray();
        Upsampler = w.HasModule("upsamplers.0.conv") ? new Conv2d(w.Sub("upsamplers.0.conv")) : null;
        _be = w.Backend;
    }

    // [N, C, H, W] -> [N, C', 2H, 2W] (or H, W for the last block)
    public Tensor Forward(Tensor h)
    {
        using var scope = _be.OpenScope();
        foreach (var r in Resnets) h = r.Forward(h, null);
        return scope.Keep(Upsampler is null ? h : Upsampler.Forward(_be.UpsampleNearest2x(h)));
    }
}
