using IIP.Engine.Configs;
using IIP.Engine.Autograd;
using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Unet;

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

    /// <summary>Down block <paramref name="level"/> (0 = the first, full resolution).</summary>
    public UNetDownBlock(ModuleWeights w, UNetConfig config, int level)
    {
        Resnets = Enumerable.Range(0, w.CountChildren("resnets"))
            .Select(i => new ResnetBlock2D(w.Sub("resnets", i), config.NormGroups, config.NormEps)).ToArray();
        Attentions = w.HasModule("attentions")
            ? Enumerable.Range(0, Resnets.Length).Select(i => new Transformer2DModel(w.Sub("attentions", i), config.Heads[level], config)).ToArray()
            : null;
        Downsampler = w.HasModule("downsamplers.0.conv") ? new Conv2d(w.Sub("downsamplers.0.conv"), stride: 2, Padding2d.Same(1)) : null;
    }

    // h [N, C, H, W] -> [N, C', H', W'], appends skips
    public Tensor Forward(Tensor h, Tensor siluTemb, Tensor context, List<Tensor> skips, GradientTape? tape = null)
    {
        for (int i = 0; i < Resnets.Length; i++)
        {
            h = Resnets[i].Forward(h, siluTemb, tape);
            if (Attentions is not null) h = Attentions[i].Forward(h, context, tape);
            skips.Add(h);
        }
        if (Downsampler is not null)
        {
            h = Downsampler.Forward(h, tape);
            skips.Add(h);
        }
        return h;
    }
}

/// <summary>UNetMidBlock2DCrossAttn: resnet, transformer (the last level's heads), resnet.</summary>
public sealed class UNetMidBlock2DCrossAttn(ModuleWeights w, UNetConfig config)
{
    public ResnetBlock2D Resnet0 { get; } = new(w.Sub("resnets", 0), config.NormGroups, config.NormEps);
    public Transformer2DModel Attention { get; } = new(w.Sub("attentions", 0), config.Heads[^1], config);
    public ResnetBlock2D Resnet1 { get; } = new(w.Sub("resnets", 1), config.NormGroups, config.NormEps);

    public Tensor Forward(Tensor h, Tensor siluTemb, Tensor context, GradientTape? tape = null) =>
        Resnet1.Forward(Attention.Forward(Resnet0.Forward(h, siluTemb, tape), context, tape), siluTemb, tape);
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

    /// <summary>Up block <paramref name="index"/> (0 = the first, lowest resolution: the heads of the last down level).</summary>
    public UNetUpBlock(ModuleWeights w, UNetConfig config, int index)
    {
        Resnets = Enumerable.Range(0, w.CountChildren("resnets"))
            .Select(i => new ResnetBlock2D(w.Sub("resnets", i), config.NormGroups, config.NormEps)).ToArray();
        Attentions = w.HasModule("attentions")
            ? Enumerable.Range(0, Resnets.Length).Select(i => new Transformer2DModel(w.Sub("attentions", i), config.Heads[^(index + 1)], config)).ToArray()
            : null;
        Upsampler = w.HasModule("upsamplers.0.conv") ? new Conv2d(w.Sub("upsamplers.0.conv")) : null;
        _be = w.Backend;
    }

    // h [N, C, H, W], consumes skips from the end -> [N, C', H', W']
    public Tensor Forward(Tensor h, Tensor siluTemb, Tensor context, List<Tensor> skips, GradientTape? tape = null)
    {
        for (int i = 0; i < Resnets.Length; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            var joined = Concat(h, skip, tape);                                // [N, C + Cskip, H, W]
            h = Resnets[i].Forward(joined, siluTemb, tape);                   // [N, C', H, W]
            if (Attentions is not null) h = Attentions[i].Forward(h, context, tape);
        }
        if (Upsampler is not null)
        {
            // to the size of the skip the next block joins first: 2H x 2W, or one less on a side where the down path's
            // stride-2 convolution rounded an odd size up (diffusers' forward_upsample_size)
            int height = skips.Count > 0 ? skips[^1].Shape[2] : 2 * h.Shape[2], width = skips.Count > 0 ? skips[^1].Shape[3] : 2 * h.Shape[3];
            h = Upsample(h, height, width, tape);                             // [N, C', 2H (- 1), 2W (- 1)]
        }
        return h;
    }

    private Tensor Concat(Tensor h, Tensor skip, GradientTape? tape)
    {
        var y = _be.ConcatChannels(h, skip);
        if (tape is null) return y;
        return tape.Record(y, [h, skip], dy =>
        {
            Tensor dh = _be.Allocate(h.Shape), dSkip = _be.Allocate(skip.Shape);
            _be.Gradients().ConcatChannelsBackward(dy, dh, dSkip);
            return [dh, dSkip];
        });
    }

    // nearest 2x into height x width, then the 3x3 conv
    private Tensor Upsample(Tensor h, int height, int width, GradientTape? tape)
    {
        var y = Upsampler!.Forward(_be.UpsampleNearest2x(h, height, width));
        if (tape is null) return y;
        return tape.Record(y, [h], dy =>
        {
            var dUp = Upsampler.BackwardInput(dy, height, width);
            var dh = _be.Allocate(h.Shape);
            _be.Gradients().UpsampleNearest2xBackward(dUp, dh);
            return [dh];
        });
    }
}
