using IIP.Engine.Autograd;
using IIP.Engine.Configs;
using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Unet;

/// <summary>
/// diffusers Transformer2DModel: GroupNorm(eps 1e-6) -> proj_in -> tokens -> BasicTransformerBlock(s) -> channels ->
/// proj_out -> + residual. SD v1's proj_in / proj_out are 1x1 convolutions [C, C, 1, 1]; SD 2.x's
/// (use_linear_projection) are Linear layers [C, C] applied to the tokens, the same map per pixel: y[n, o, p] =
/// sum_c W[o, c] x[n, c, p] + b[o] either way, so the Linear weights run as 1x1 convolutions (a reshaped view).
/// </summary>
public sealed class Transformer2DModel
{
    public GroupNorm Norm { get; }
    public Conv2d ProjIn { get; }
    public BasicTransformerBlock[] Blocks { get; }
    public Conv2d ProjOut { get; }
    private readonly IBackend _be;

    public Transformer2DModel(ModuleWeights w, int heads, UNetConfig config)
    {
        Norm = new GroupNorm(w.Sub("norm"), config.NormGroups, 1e-6f);
        ProjIn = Conv2d.Pointwise(w.Sub("proj_in"), linear: config.UseLinearProjection);
        Blocks = Enumerable.Range(0, w.CountChildren("transformer_blocks"))
            .Select(i => new BasicTransformerBlock(w.Sub("transformer_blocks", i), heads)).ToArray();
        ProjOut = Conv2d.Pointwise(w.Sub("proj_out"), linear: config.UseLinearProjection);
        _be = w.Backend;
    }

    // x [N, C, H, W], context [N, S, Cctx] -> [N, C, H, W]
    public Tensor Forward(Tensor x, Tensor context)
    {
        using var scope = _be.OpenScope();
        int height = x.Shape[2], width = x.Shape[3];
        var h = _be.ChannelsToTokens(ProjIn.Forward(Norm.Forward(x)));   // [N, HW, C]
        foreach (var block in Blocks)
            h = block.Forward(h, context);
        var y = ProjOut.Forward(_be.TokensToChannels(h, height, width)); // [N, C, H, W]
        _be.Add(y, x, y);
        return scope.Keep(y);
    }

    /// <summary>Forward, recorded on <paramref name="tape"/> (when given) with <see cref="Backward"/>.</summary>
    public Tensor Forward(Tensor x, Tensor context, GradientTape? tape)
    {
        var y = Forward(x, context);
        if (tape is null) return y;
        return tape.Record(y, [x, context], dy =>
        {
            var (dx, dContext) = Backward(x, context, dy);
            return [dx, dContext];
        });
    }

    /// <summary>
    /// Input gradients, recomputing from the input (block inputs are kept, block internals recomputed by each
    /// block). x [N, C, H, W], context [N, S, Cctx], dy like x -> dx like x, dContext [N, S, Cctx].
    /// </summary>
    public (Tensor Dx, Tensor DContext) Backward(Tensor x, Tensor context, Tensor dy)
    {
        int height = x.Shape[2], width = x.Shape[3];
        var normed = Norm.Forward(x);
        var blockInputs = new List<Tensor> { _be.ChannelsToTokens(ProjIn.Forward(normed)) };   // [N, HW, C]
        foreach (var block in Blocks[..^1])
            blockInputs.Add(block.Forward(blockInputs[^1], context));

        var dTokens = _be.ChannelsToTokens(ProjOut.BackwardInput(dy, height, width));           // [N, HW, C]
        Tensor? dContext = null;
        for (int i = Blocks.Length - 1; i >= 0; i--)
        {
            var (dIn, dCtx) = Blocks[i].Backward(blockInputs[i], context, dTokens);
            dTokens = dIn;
            if (dContext is null) dContext = dCtx;
            else _be.Add(dContext, dCtx, dContext);
        }
        var dProjIn = ProjIn.BackwardInput(_be.TokensToChannels(dTokens, height, width), height, width);
        var dx = Norm.Backward(x, dProjIn);
        _be.Add(dx, dy, dx);
        return (dx, dContext ?? _be.FromHost(new Tensor(context.Shape)));
    }
}
