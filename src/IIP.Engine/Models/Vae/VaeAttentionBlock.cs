using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Vae;

/// <summary>
/// The VAE mid-block attention (diffusers Attention with group_norm, one head, residual connection):
/// y = x + to_out(attention(group_norm(x) as tokens)).
/// </summary>
public sealed class VaeAttentionBlock
{
    public GroupNorm Norm { get; }
    public Attention Attention { get; }
    private readonly IBackend _be;

    public VaeAttentionBlock(ModuleWeights w, int groups, float eps)
    {
        Norm = new GroupNorm(w.Sub("group_norm"), groups, eps);
        Attention = new Attention(w, heads: 1);
        _be = w.Backend;
    }

    // x [N, C, H, W] -> same
    public Tensor Forward(Tensor x)
    {
        using var scope = _be.OpenScope();
        var tokens = _be.ChannelsToTokens(Norm.Forward(x));                                 // [N, HW, C]
        var y = _be.TokensToChannels(Attention.Forward(tokens), x.Shape[2], x.Shape[3]);   // [N, C, H, W]
        _be.Add(y, x, y);
        return scope.Keep(y);
    }
}
