using IIP.Engine.Autograd;
using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Unet;

/// <summary>
/// diffusers ResnetBlock2D (output_scale_factor 1, no up/down): h = conv1(silu(norm1(x)));
/// h += time_emb_proj(silu(temb))[:, :, None, None]; h = conv2(silu(norm2(h)));
/// out = shortcut(x) + h, shortcut a 1x1 conv when channels change. Also the VAE's block (no temb).
/// </summary>
public sealed class ResnetBlock2D
{
    public GroupNorm Norm1 { get; }
    public Conv2d Conv1 { get; }
    public Linear? TimeEmbProj { get; }
    public GroupNorm Norm2 { get; }
    public Conv2d Conv2 { get; }
    public Conv2d? ConvShortcut { get; }
    private readonly IBackend _be;

    public ResnetBlock2D(ModuleWeights w, int groups, float eps)
    {
        Norm1 = new GroupNorm(w.Sub("norm1"), groups, eps);
        Conv1 = new Conv2d(w.Sub("conv1"));
        TimeEmbProj = w.HasModule("time_emb_proj") ? new Linear(w.Sub("time_emb_proj")) : null;
        Norm2 = new GroupNorm(w.Sub("norm2"), groups, eps);
        Conv2 = new Conv2d(w.Sub("conv2"));
        ConvShortcut = w.HasModule("conv_shortcut") ? new Conv2d(w.Sub("conv_shortcut")) : null;
        _be = w.Backend;
    }

    // x [N, Cin, H, W], siluTemb [N, Ctemb] = silu(temb) or null -> [N, Cout, H, W]
    public Tensor Forward(Tensor x, Tensor? siluTemb)
    {
        using var scope = _be.OpenScope();
        var h = Conv1.Forward(Norm1.Forward(x, silu: true));            // [N, Cout, H, W]
        if (TimeEmbProj is not null && siluTemb is not null)
            _be.AddChannelBias(h, TimeEmbProj.Forward(siluTemb), h);    // + [N, Cout]
        h = Conv2.Forward(Norm2.Forward(h, silu: true));                // [N, Cout, H, W]
        var shortcut = ConvShortcut?.Forward(x) ?? x;
        _be.Add(shortcut, h, h);
        return scope.Keep(h);
    }

    /// <summary>Forward, recorded on <paramref name="tape"/> (when given) with <see cref="BackwardInput"/>.</summary>
    public Tensor Forward(Tensor x, Tensor? siluTemb, GradientTape? tape)
    {
        var y = Forward(x, siluTemb);
        return tape is null ? y : tape.Record(y, [x], dy => [BackwardInput(x, siluTemb, dy)]);
    }

    /// <summary>dL/dx from dy, recomputing the block from its input. x [N, Cin, H, W], dy [N, Cout, H, W] -> dx like x.</summary>
    public Tensor BackwardInput(Tensor x, Tensor? siluTemb, Tensor dy)
    {
        int height = x.Shape[2], width = x.Shape[3];
        var h1 = Conv1.Forward(Norm1.Forward(x, silu: true));               // conv1 output + time projection
        if (TimeEmbProj is not null && siluTemb is not null)
            _be.AddChannelBias(h1, TimeEmbProj.Forward(siluTemb), h1);
        var dNorm2 = Conv2.BackwardInput(dy, height, width);                // through conv2
        var dh1 = Norm2.Backward(h1, dNorm2, silu: true);                   // through silu(norm2)
        var dNorm1 = Conv1.BackwardInput(dh1, height, width);               // the time bias passes dh1 unchanged
        var dx = Norm1.Backward(x, dNorm1, silu: true);
        _be.Add(dx, ConvShortcut?.BackwardInput(dy, height, width) ?? dy, dx);
        return dx;
    }
}
