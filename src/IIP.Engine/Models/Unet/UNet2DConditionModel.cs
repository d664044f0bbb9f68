using IIP.Engine.Configs;
using IIP.Engine.Autograd;
using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Models.Unet;

/// <summary>
/// diffusers UNet2DConditionModel with the SD v1 topology, any widths, depths and latent shape:
/// eps = UNet(x_t, t, context). Time: sinusoidal(C0) -> linear_1 -> SiLU -> linear_2 (4 C0).
/// conv_in -> down blocks -> mid block -> up blocks (skip concatenation) -> GroupNorm+SiLU -> conv_out.
/// </summary>
public sealed class UNet2DConditionModel
{
    public UNetConfig Config { get; }
    public Linear TimeLinear1 { get; }
    public Linear TimeLinear2 { get; }
    public Conv2d ConvIn { get; }
    public UNetDownBlock[] DownBlocks { get; }
    public UNetMidBlock2DCrossAttn MidBlock { get; }
    public UNetUpBlock[] UpBlocks { get; }
    public GroupNorm ConvNormOut { get; }
    public Conv2d ConvOut { get; }
    private readonly IBackend _be;

    public UNet2DConditionModel(IWeightSource weights, UNetConfig config, IBackend backend)
    {
        var w = new ModuleWeights(weights, backend);
        Config = config;
        TimeLinear1 = new Linear(w.Sub("time_embedding.linear_1"));
        TimeLinear2 = new Linear(w.Sub("time_embedding.linear_2"));
        ConvIn = new Conv2d(w.Sub("conv_in"));
        DownBlocks = Enumerable.Range(0, config.BlockOutChannels.Length).Select(i => new UNetDownBlock(w.Sub("down_blocks", i), config, i)).ToArray();
        MidBlock = new UNetMidBlock2DCrossAttn(w.Sub("mid_block"), config);
        UpBlocks = Enumerable.Range(0, config.BlockOutChannels.Length).Select(i => new UNetUpBlock(w.Sub("up_blocks", i), config, i)).ToArray();
        ConvNormOut = new GroupNorm(w.Sub("conv_norm_out"), config.NormGroups, config.NormEps);
        ConvOut = new Conv2d(w.Sub("conv_out"));
        _be = backend;
    }

    /// <summary>How many times the latent is halved; its height and width must be multiples of 2^this.</summary>
    public int DownsampleFactor => 1 << DownBlocks.Count(b => b.Downsampler is not null);

    // sample [N, Cin, H, W], one timestep per item, context [N, S, Cctx] -> eps [N, Cout, H, W]
    public Tensor Forward(Tensor sample, ReadOnlySpan<float> timesteps, Tensor context) => Forward(sample, timesteps, context, null);

    /// <summary>
    /// The forward pass, recorded module by module on <paramref name="tape"/> when given, so that
    /// <see cref="GradientTape.Gradient"/> can return d(loss)/d(context) for a watched context.
    /// </summary>
    public Tensor Forward(Tensor sample, ReadOnlySpan<float> timesteps, Tensor context, GradientTape? tape)
    {
        using var range = IIP.Native.Nvtx.Range(tape is null ? "unet" : "unet (recorded)");
        // Without a tape nothing but eps outlives the forward; with one, the tape holds module inputs.
        using var scope = tape is null ? _be.OpenScope() : ActivationScope.None;
        int n = sample.Shape[0];
        if (timesteps.Length != n || context.Shape[0] != n)
            throw new ArgumentException($"UNet: batch {n} needs {n} timesteps and contexts, got {timesteps.Length} and {context.Shape[0]}");
        return Forward(sample, TimestepFeatures(timesteps), context, tape, scope);
    }

    /// <summary>The sinusoidal timestep features [N, C0] on the backend (uploaded: outside a graph capture).</summary>
    public Tensor TimestepFeatures(ReadOnlySpan<float> timesteps) => _be.FromHost(TimestepFeaturesOnHost(timesteps));

    /// <summary>The sinusoidal timestep features [N, C0] as a host tensor (to refill a captured graph's input).</summary>
    public Tensor TimestepFeaturesOnHost(ReadOnlySpan<float> timesteps) =>
        Timesteps.Embed(timesteps, TimeLinear1.InFeatures, Config.FlipSinToCos, Config.FreqShift);

    /// <summary>
    /// The forward pass from timestep features made by <see cref="TimestepFeatures"/> (no host transfer inside, so a
    /// CUDA graph can record it: refill the features and the sample between replays).
    /// </summary>
    public Tensor Forward(Tensor sample, Tensor timestepFeatures, Tensor context)
    {
        using var range = IIP.Native.Nvtx.Range("unet");
        using var scope = _be.OpenScope();
        return Forward(sample, timestepFeatures, context, null, scope);
    }

    /// <summary>
    /// The forward pass from timestep features, recorded on <paramref name="tape"/>: for a caller that owns the features'
    /// upload and releases it after the backward pass.
    /// </summary>
    public Tensor Forward(Tensor sample, Tensor timestepFeatures, Tensor context, GradientTape tape)
    {
        using var range = IIP.Native.Nvtx.Range("unet (recorded)");
        return Forward(sample, timestepFeatures, context, tape, ActivationScope.None);
    }

    private Tensor Forward(Tensor sample, Tensor tFeatures, Tensor context, GradientTape? tape, ActivationScope scope)
    {
        int n = sample.Shape[0];
        if (tFeatures.Shape[0] != n || context.Shape[0] != n)
            throw new ArgumentException($"UNet: batch {n} needs {n} timestep features and contexts, got {tFeatures.Shape[0]} and {context.Shape[0]}");

        var temb = TimeLinear2.Forward(_be.Silu(TimeLinear1.Forward(tFeatures)));          // [N, 4 C0]
        var siluTemb = _be.Silu(temb);                                                      // every resnet applies SiLU to temb first

        var h = ConvIn.Forward(sample);                                                     // [N, C0, H, W]
        var skips = new List<Tensor> { h };
        foreach (var block in DownBlocks)
            h = block.Forward(h, siluTemb, context, skips, tape);
        h = MidBlock.Forward(h, siluTemb, context, tape);
        foreach (var block in UpBlocks)
            h = block.Forward(h, siluTemb, context, skips, tape);
        var eps = ConvOut.Forward(ConvNormOut.Forward(h, silu: true));                      // [N, Cout, H, W]
        if (tape is null) return scope.Keep(eps);
        var hOut = h;
        return tape.Record(eps, [hOut], dy =>
            [ConvNormOut.Backward(hOut, ConvOut.BackwardInput(dy, hOut.Shape[2], hOut.Shape[3]), silu: true)]);
    }

    public Tensor Forward(Tensor sample, float timestep, Tensor context) =>
        Forward(sample, Enumerable.Repeat(timestep, sample.Shape[0]).ToArray(), context);
}
