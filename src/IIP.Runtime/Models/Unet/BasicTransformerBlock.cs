using IIP.Runtime.Backends;
using IIP.Runtime.Models.Layers;
using IIP.Runtime.Tensors;

namespace IIP.Runtime.Models.Unet;

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
        x = _be.Add(x, Attn1.Forward(Norm1.Forward(x)));
        x = _be.Add(x, Attn2.Forward(Norm2.Forward(x), context));
        var ff = FfOut.Forward(_be.Geglu(FfProj.Forward(Norm3.Forward(x)))); // [B, T, 8C] -> [B, T, 4C] -> [B, T, C]
        return _be.Add(x, ff);
    }
}
