using IIP.Engine.Tensors;

namespace IIP.Engine.Backends;

/// <summary>
/// Reverse-mode input gradients (vector-Jacobian products) of the <see cref="IBackend"/> ops: given the
/// forward inputs and dy = dL/dy, each method writes dL/dx. No weight gradients: IIP optimizes only the
/// UNet's encoder_hidden_states. Written sources -> attributes -> destination like the forward ops;
/// destinations are allocated by the caller (see <see cref="GradientBackendExtensions"/>) and are
/// overwritten, not accumulated into. Where a gradient flows into a tensor from several uses,
/// accumulate with <c>Add(acc, grad, acc)</c> (Add allows aliasing).
/// <para>
/// Ops whose input gradient needs no op of its own: Add (dx = dy for both inputs), AddChannelBias
/// (dx = dy), Axpby (dx = alpha dy, dz = beta dy), ChannelsToTokens and TokensToChannels (each one's
/// input gradient is the other applied to dy).
/// </para>
/// </summary>
public interface IGradientBackend : IBackend
{
    /// <summary>Linear (y = x W^T + b): dx = dy W. dy [M, N], w [N, K] -> dx [M, K].</summary>
    void LinearBackwardInput(Tensor dy, Tensor w, Tensor dx);

    /// <summary>
    /// Conv2d: the transposed convolution of dy with w. dy [N, O, Ho, Wo], w [O, C, KH, KW], the forward's
    /// stride and padding -> dx [N, C, H, W]. The forward input's H and W come from dx (with stride 2 several
    /// input sizes give the same Ho); input pixels no output reads get a zero gradient.
    /// </summary>
    void Conv2dBackwardInput(Tensor dy, Tensor w, int stride, Padding2d padding, Tensor dx);

    /// <summary>
    /// GroupNorm, optionally followed by SiLU (applied after the affine, so beta matters only then).
    /// Recomputes the group statistics from x. x [N, C, *spatial], gamma [C], beta [C], dy like x -> dx like x.
    /// </summary>
    void GroupNormBackward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor dy, Tensor dx);

    /// <summary>LayerNorm over the last axis; recomputes the row statistics. x [.., C], gamma [C], dy like x -> dx like x.</summary>
    void LayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx);

    /// <summary>
    /// Multi-head attention as <see cref="IBackend.Attention"/>; recomputes the softmax per block of query rows.
    /// q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv], dy [B, Tq, Cv] -> dq like q, dk like k, dv like v.
    /// A null destination is not computed.
    /// </summary>
    void AttentionBackward(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor dy, Tensor? dq, Tensor? dk, Tensor? dv);

    /// <summary>y = x sigmoid(x): dx = dy s (1 + x (1 - s)), s = sigmoid(x). x, dy -> dx, same shapes.</summary>
    void SiluBackward(Tensor x, Tensor dy, Tensor dx);

    /// <summary>
    /// GEGLU, y = h gelu(g) with h, g = x.chunk(2, -1): dh = dy gelu(g), dg = dy h gelu'(g),
    /// gelu'(g) = Phi(g) + g phi(g) (exact erf GELU). x [.., 2D], dy [.., D] -> dx [.., 2D].
    /// </summary>
    void GegluBackward(Tensor x, Tensor dy, Tensor dx);

    /// <summary>
    /// Nearest 2x upsampling: each dx pixel sums its 2x2 block of dy, the part of it inside dy where the forward cut the
    /// last row or column off. dy [N, C, 2H or 2H - 1, 2W or 2W - 1] -> dx [N, C, H, W].
    /// </summary>
    void UpsampleNearest2xBackward(Tensor dy, Tensor dx);

    /// <summary>
    /// Channel concatenation: splits dy. dy [N, Ca + Cb, H, W] -> da [N, Ca, H, W], db [N, Cb, H, W].
    /// A null destination is skipped (its channel count is then implied by the other).
    /// </summary>
    void ConcatChannelsBackward(Tensor dy, Tensor? da, Tensor? db);
}

/// <summary>Allocating forms of the <see cref="IGradientBackend"/> ops.</summary>
public static class GradientBackendExtensions
{
    // dy [M.., N], w [N, K] -> dx [M.., K]
    public static Tensor LinearBackwardInput(this IGradientBackend be, Tensor dy, Tensor w)
    {
        var shape = (int[])dy.Shape.Clone();
        shape[^1] = w.Shape[1];
        var dx = be.Allocate(shape);
        be.LinearBackwardInput(dy.Reshape(-1, dy.Dim(-1)), w, dx.Reshape(-1, shape[^1]));
        return dx;
    }

    // dy [N, O, Ho, Wo], w [O, C, KH, KW] -> dx [N, C, height, width] (the forward input's size)
    public static Tensor Conv2dBackwardInput(this IGradientBackend be, Tensor dy, Tensor w, int stride, Padding2d padding,
        int height, int width)
    {
        var dx = be.Allocate(dy.Shape[0], w.Shape[1], height, width);
        be.Conv2dBackwardInput(dy, w, stride, padding, dx);
        return dx;
    }

    public static Tensor GroupNormBackward(this IGradientBackend be, Tensor x, Tensor gamma, Tensor beta, int groups,
        float eps, bool silu, Tensor dy)
    {
        var dx = be.Allocate(x.Shape);
        be.GroupNormBackward(x, gamma, beta, groups, eps, silu, dy, dx);
        return dx;
    }

    public static Tensor LayerNormBackward(this IGradientBackend be, Tensor x, Tensor gamma, float eps, Tensor dy)
    {
        var dx = be.Allocate(x.Shape);
        be.LayerNormBackward(x, gamma, eps, dy, dx);
        return dx;
    }

    // -> (dq [B, Tq, C], dk [B, Tk, C], dv [B, Tk, Cv])
    public static (Tensor Dq, Tensor Dk, Tensor Dv) AttentionBackward(this IGradientBackend be, Tensor q, Tensor k,
        Tensor v, int heads, bool causal, Tensor dy)
    {
        Tensor dq = be.Allocate(q.Shape), dk = be.Allocate(k.Shape), dv = be.Allocate(v.Shape);
        be.AttentionBackward(q, k, v, heads, causal, dy, dq, dk, dv);
        return (dq, dk, dv);
    }

    public static Tensor SiluBackward(this IGradientBackend be, Tensor x, Tensor dy)
    {
        var dx = be.Allocate(x.Shape);
        be.SiluBackward(x, dy, dx);
        return dx;
    }

    // x [.., 2D], dy [.., D] -> dx [.., 2D]
    public static Tensor GegluBackward(this IGradientBackend be, Tensor x, Tensor dy)
    {
        var dx = be.Allocate(x.Shape);
        be.GegluBackward(x, dy, dx);
        return dx;
    }

    // dy [N, C, 2H or 2H - 1, 2W or 2W - 1] -> dx [N, C, H, W] (H = ceil of half dy's rows)
    public static Tensor UpsampleNearest2xBackward(this IGradientBackend be, Tensor dy)
    {
        var dx = be.Allocate(dy.Shape[0], dy.Shape[1], (dy.Shape[2] + 1) / 2, (dy.Shape[3] + 1) / 2);
        be.UpsampleNearest2xBackward(dy, dx);
        return dx;
    }

    // dy [N, Ca + Cb, H, W] -> (da [N, Ca, H, W], db [N, Cb, H, W])
    public static (Tensor Da, Tensor Db) ConcatChannelsBackward(this IGradientBackend be, Tensor dy, int channelsA)
    {
        int n = dy.Shape[0], h = dy.Shape[2], w = dy.Shape[3];
        Tensor da = be.Allocate(n, channelsA, h, w), db = be.Allocate(n, dy.Shape[1] - channelsA, h, w);
        be.ConcatChannelsBackward(dy, da, db);
        return (da, db);
    }
}
