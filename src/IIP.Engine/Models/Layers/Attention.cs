using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Layers;

/// <summary>
/// diffusers <c>Attention</c> (multi-head, no output scaling): to_q, to_k, to_v, to_out.0.
/// out = to_out(softmax(q k^T / sqrt(d)) v), d = inner / heads.
/// </summary>
public sealed class Attention
{
    public Linear ToQ { get; }
    public Linear ToK { get; }
    public Linear ToV { get; }
    public Linear ToOut { get; }
    public int Heads { get; }
    private readonly IBackend _be;

    public Attention(ModuleWeights w, int heads)
    {
        ToQ = new Linear(w.Sub("to_q"));
        ToK = new Linear(w.Sub("to_k"));
        ToV = new Linear(w.Sub("to_v"));
        ToOut = new Linear(w.Sub("to_out", 0));
        Heads = heads;
        _be = w.Backend;
    }

    // x [B, T, C], context [B, S, Cctx] (null: self-attention) -> [B, T, C]
    public Tensor Forward(Tensor x, Tensor? context = null)
    {
        using var scope = _be.OpenScope();
        var kv = context ?? x;
        var q = ToQ.Forward(x);                             // [B, T, inner]
        var k = ToK.Forward(kv);                            // [B, S, inner]
        var v = ToV.Forward(kv);                            // [B, S, inner]
        var o = _be.Attention(q, k, v, Heads, causal: false); // [B, T, inner]
        return scope.Keep(ToOut.Forward(o));                // [B, T, C]
    }

    /// <summary>
    /// Input gradients, recomputing q, k, v from the saved inputs. x [B, T, C], context [B, S, Cctx] or null,
    /// dy [B, T, C] -> dx [B, T, C] and, for cross-attention, dContext [B, S, Cctx] (null for self-attention:
    /// then the key/value paths add into dx).
    /// </summary>
    public (Tensor Dx, Tensor? DContext) Backward(Tensor x, Tensor? context, Tensor dy)
    {
        var grad = _be.Gradients();
        var kv = context ?? x;
        var q = ToQ.Forward(x);
        var k = ToK.Forward(kv);
        var v = ToV.Forward(kv);
        var dO = ToOut.BackwardInput(dy);                                   // [B, T, inner]
        var (dq, dk, dv) = grad.AttentionBackward(q, k, v, Heads, causal: false, dO);
        var dx = ToQ.BackwardInput(dq);                                     // [B, T, C]
        var dkv = ToK.BackwardInput(dk);                                    // [B, S, Ckv]
        _be.Add(dkv, ToV.BackwardInput(dv), dkv);
        if (context is not null) return (dx, dkv);
        _be.Add(dx, dkv, dx);
        return (dx, null);
    }
}
