using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Unet;

/// <summary>
/// diffusers BasicTransformerBlock (SD v1): x += attn1(norm1(x)); x += attn2(norm2(x), context);
/// x += ff(norm3(x)), ff = Linear(4C) . GEGLU(net.0.proj: C -> 8C) . net.2. LayerNorm eps 1e-5.
/// </summary>
public sealed class BasicTransformerBlock
{
    public LayerNorm Norm1 { get; }
    public Attention Attn1 { get; }
    public LayerNorm Norm2 { get; }
    public Attention Attn2 { get; }
    public LayerNorm Norm3 { get; }
    public Linear FfProj { get; }
    public Linear FfOut { get; }
    private readonly IBackend _be;

    public BasicTransformerBlock(ModuleWeights w, int heads)
    {
        Norm1 = new LayerNorm(w.Sub("norm1"), 1e-5f);
        Attn1 = new Attention(w.Sub("attn1"), heads);
        Norm2 = new LayerNorm(w.Sub("norm2"), 1e-5f);
        Attn2 = new Attention(w.Sub("attn2"), heads);
        Norm3 = new LayerNorm(w.Sub("norm3"), 1e-5f);
        FfProj = new Linear(w.Sub("ff.net.0.proj"));
        FfOut = new Linear(w.Sub("ff.net.2"));
        _be = w.Backend;
    }

    // x [B, T, C], context [B, S, Cctx] -> [B, T, C]
    public Tensor Forward(Tensor x, Tensor context)
    {
        using var scope = _be.OpenScope();
        x = _be.Add(x, Attn1.Forward(Norm1.Forward(x)));
        x = _be.Add(x, Attn2.Forward(Norm2.Forward(x), context));
        var ff = FfOut.Forward(_be.LinearGeglu(Norm3.Forward(x), FfProj.Weight, FfProj.Bias)); // [B, T, C] -> [B, T, 4C] -> [B, T, C]
        _be.Add(x, ff, ff);
        return scope.Keep(ff);
    }

    /// <summary>
    /// Input gradients, recomputing the block from its input. x [B, T, C], context [B, S, Cctx], dy [B, T, C]
    /// -> dx [B, T, C], dContext [B, S, Cctx].
    /// </summary>
    public (Tensor Dx, Tensor DContext) Backward(Tensor x, Tensor context, Tensor dy)
    {
        var grad = _be.Gradients();
        var n1 = Norm1.Forward(x);
        var x1 = _be.Add(x, Attn1.Forward(n1));
        var n2 = Norm2.Forward(x1);
        var x2 = _be.Add(x1, Attn2.Forward(n2, context));
        var n3 = Norm3.Forward(x2);
        var projected = FfProj.Forward(n3);                                           // [B, T, 8C]

        // out = x2 + ff(norm3(x2))
        var dGeglu = grad.GegluBackward(projected, FfOut.BackwardInput(dy));          // [B, T, 8C]
        var dx2 = Norm3.Backward(x2, FfProj.BackwardInput(dGeglu));
        _be.Add(dx2, dy, dx2);
        // x2 = x1 + attn2(norm2(x1), context)
        var (dn2, dContext) = Attn2.Backward(n2, context, dx2);
        var dx1 = Norm2.Backward(x1, dn2);
        _be.Add(dx1, dx2, dx1);
        // x1 = x + attn1(norm1(x))
        var (dn1, _) = Attn1.Backward(n1, null, dx1);
        var dx = Norm1.Backward(x, dn1);
        _be.Add(dx, dx1, dx);
        return (dx, dContext!);
    }
}
