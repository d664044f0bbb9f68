using IIP.Runtime.Backends;
using IIP.Runtime.Models.Layers;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Models.Unet;

/// <summary>
/// CrossAttnDownBlock2D (with attentions) or DownBlock2D (without): layers of ResnetBlock2D
/// [+ Transformer2DModel], then an optional stride-2 3x3 downsampler (padding 1). Every layer's output and the
/// downsampler's output are skip connections for the up path.
/// </summary>
public sealed class UNetDownBlock
{
    public ResnetBlock2D[] Resnets { get; }
    public Transformer2DModel[]? Attentions { get; }
    public Conv2d? Downsampler { get; }

    public UNetDownBlock(ModuleWeights w, UNetConfig config)
    {
        Resnets = Enumerable.Range(0, w.CountChildren("resnets"))
            .Select(i => new ResnetBlock2D(w.Sub("resnets", i), config.NormGroups, config.NormEps)).ToArray();
        Attentions = w.HasModule("attentions")
            ? Enumerable.Range(0, Resnets.Length).Select(i => new Transformer2DModel(w.Sub("attentions", i), config.Heads, config.NormGroups)).ToArray()
            : null;
        Downsampler = w.HasModule("downsamplers.0.conv") ? new Conv2d(w.Sub("downsamplers.0.conv"), stride: 2, Padding2d.Same(1)) : null;
    }

    // h [N, C, H, W] -> [N, C', H', W'], appends skips
    public Tensor Forward(Tensor h, Tensor siluTemb, Tensor context, List<Tensor> skips)
    {
        for (int i = 0; i < Resnets.Length; i++)
        {
            h = Resnets[i].Forward(h, siluTemb);
            if (Attentions is not null) h = Attentions[i].Forward(h, context);
            skips.Add(h);
        }
        if (Downsampler is not null)
        {
            h = Downsampler.Forward(h);
            skips.Add(h);
        }
        return h;
    }
}

/// <summary>UNetMidBlock2DCrossAttn: resnet, transformer, resnet.</summary>
public sealed class UNetMidBlock2DCrossAttn(ModuleWeights w, UNetConfig config)
{
    public ResnetBlock2D Resnet0 { get; } = new(w.Sub("resnets", 0), config.NormGroups, config.NormEps);
    public Transformer2DModel Attention { get; } = new(w.Sub("attentions", 0), config.Heads, config.NormGroups);
    public ResnetBlock2D Resnet1 { get; } = new(w.Sub("resnets", 1), config.NormGroups, config.NormEps);

    public Tensor Forward(Tensor h, Tensor siluTemb, Tensor context) =>
        Resnet1.Forward(Attention.Forward(Resnet0.Forward(h, siluTemb), context), siluTemb);
}

/// <summary>
/// CrossAttnUpBlock2D or UpBlock2D: each layer concatenates the last skip on channels, then ResnetBlock2D
/// [+ Transformer2DModel]; then an optional nearest-2x upsample followed by a 3x3 conv.
/// </summary>
public sealed class UNetUpBlock
{
    public ResnetBlock2D[] Resnets { get; }
    public Transformer2DModel[]? Attentions { get; }
    public Conv2d? Upsampler { get; }
    private readonly IBackend _be;

    public UNetUpBlock(ModuleWeights w, UNetConfig config)
    {
        Resnets = Enumerable.Range(0, w.CountChildren("resnets"))
            .Select(i => new ResnetBlock2D(w.Sub("resnets", i), config.NormGroups, config.NormEps)).ToArray();
        Attentions = w.HasModule("attentions")
            ? Enumerable.Range(0, Resnets.Length).Select(i => new Transformer2DModel(w.Sub("attentions", i), config.Heads, config.NormGroups)).ToArray()
            : null;
        Upsampler = w.HasModule("upsamplers.0.conv") ? new Conv2d(w.Sub("upsamplers.0.conv")) : null;
        _be = w.Backend;
    }

    // h [N, C, H, W], consumes skips from the end -> [N, C', H', W']
    public Tensor Forward(Tensor h, Tensor siluTemb, Tensor context, List<Tensor> skips)
    {
        for (int i = 0; i < Resnets.Length; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            h = Resnets[i].Forward(_be.ConcatChannels(h, skip), siluTemb);  // [N, C + Cskip, H, W] -> [N, C', H, W]
            if (Attentions is not null) h = Attentions[i].Forward(h, context);
        }
        if (Upsampler is not null)
            h = Upsampler.Forward(_be.UpsampleNearest2x(h));                  // [N, C', 2H, 2W]
        return h;
    }
}
