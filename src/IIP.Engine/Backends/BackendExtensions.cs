using IIP.Engine.Tensors;

namespace IIP.Engine.Backends;

/// <summary>Allocating forms of the <see cref="IBackend"/> ops, for model code that reads top to bottom.</summary>
public static class BackendExtensions
{
    /// <summary>The backend's gradient ops, or a clear error for a backend without them.</summary>
    public static IGradientBackend Gradients(this IBackend be) =>
        be as IGradientBackend ?? throw new NotSupportedException($"the {be.Name} backend has no gradient ops");

    // x [M.., K], w [N, K] -> [M.., N]
    /// <summary>
    /// A host tensor with <paramref name="tensor"/>'s values that outlives <paramref name="scope"/>: on a device backend a
    /// copy (the device tensor stays the scope's, freed when it closes); on the CPU, where <see cref="IBackend.ToHost"/>
    /// is the tensor itself, the tensor kept out of the scope so that its pooled memory is not handed out again.
    /// </summary>
    public static Tensor ToHostOutOf(this IBackend be, ActivationScope scope, Tensor tensor)
    {
        var host = be.ToHost(tensor);
        return ReferenceEquals(host, tensor) ? scope.Keep(tensor) : host;
    }

    /// <summary>
    /// Releases <paramref name="upload"/>, what <see cref="IBackend.FromHost"/> made of <paramref name="source"/>, unless it is
    /// the source itself (a tensor already on the backend, or any tensor on the CPU): never the caller's tensor.
    /// </summary>
    public static void ReleaseUpload(this IBackend be, Tensor upload, Tensor source)
    {
        if (!ReferenceEquals(upload, source)) be.Release(upload);
    }

    public static Tensor Linear(this IBackend be, Tensor x, Tensor w, Tensor? b)
    {
        var shape = (int[])x.Shape.Clone();
        shape[^1] = w.Shape[0];
        var y = be.Allocate(shape);
        be.Linear(x.Reshape(-1, x.Dim(-1)), w, b, y.Reshape(-1, shape[^1]));
        return y;
    }

    // x [N, C, H, W], w [O, C, KH, KW] -> [N, O, Ho, Wo]
    public static Tensor Conv2d(this IBackend be, Tensor x, Tensor w, Tensor? b, int stride, Padding2d padding)
    {
        int ho = (x.Shape[2] + padding.Top + padding.Bottom - w.Shape[2]) / stride + 1;
        int wo = (x.Shape[3] + padding.Left + padding.Right - w.Shape[3]) / stride + 1;
        var y = be.Allocate(x.Shape[0], w.Shape[0], ho, wo);
        be.Conv2d(x, w, b, stride, padding, y);
        return y;
    }

    public static Tensor GroupNorm(this IBackend be, Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu)
    {
        var y = be.Allocate(x.Shape);
        be.GroupNorm(x, gamma, beta, groups, eps, silu, y);
        return y;
    }

    public static Tensor LayerNorm(this IBackend be, Tensor x, Tensor gamma, Tensor beta, float eps)
    {
        var y = be.Allocate(x.Shape);
        be.LayerNorm(x, gamma, beta, eps, y);
        return y;
    }

    // q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv] -> [B, Tq, Cv]
    public static Tensor Attention(this IBackend be, Tensor q, Tensor k, Tensor v, int heads, bool causal)
    {
        var y = be.Allocate(q.Shape[0], q.Shape[1], v.Shape[2]);
        be.Attention(q, k, v, heads, causal, y);
        return y;
    }

    public static Tensor Add(this IBackend be, Tensor a, Tensor b)
    {
        var y = be.Allocate(a.Shape);
        be.Add(a, b, y);
        return y;
    }

    public static Tensor AddChannelBias(this IBackend be, Tensor x, Tensor bias)
    {
        var y = be.Allocate(x.Shape);
        be.AddChannelBias(x, bias, y);
        return y;
    }

    public static Tensor Scale(this IBackend be, Tensor x, float s)
    {
        var y = be.Allocate(x.Shape);
        be.Axpby(s, x, 0f, x, y);
        return y;
    }

    public static Tensor Silu(this IBackend be, Tensor x)
    {
        var y = be.Allocate(x.Shape);
        be.Silu(x, y);
        return y;
    }

    public static Tensor QuickGelu(this IBackend be, Tensor x)
    {
        var y = be.Allocate(x.Shape);
        be.QuickGelu(x, y);
        return y;
    }

    public static Tensor Gelu(this IBackend be, Tensor x)
    {
        var y = be.Allocate(x.Shape);
        be.Gelu(x, y);
        return y;
    }

    // x [.., 2D] -> [.., D]
    public static Tensor Geglu(this IBackend be, Tensor x)
    {
        var shape = (int[])x.Shape.Clone();
        shape[^1] /= 2;
        var y = be.Allocate(shape);
        be.Geglu(x, y);
        return y;
    }

    // x [M.., K], w [2D, K] -> [M.., D]
    public static Tensor LinearGeglu(this IBackend be, Tensor x, Tensor w, Tensor? b)
    {
        var shape = (int[])x.Shape.Clone();
        shape[^1] = w.Shape[0] / 2;
        var y = be.Allocate(shape);
        be.LinearGeglu(x.Reshape(-1, x.Dim(-1)), w, b, y.Reshape(-1, shape[^1]));
        return y;
    }

    public static Tensor ConcatChannels(this IBackend be, Tensor a, Tensor b)
    {
        var y = be.Allocate(a.Shape[0], a.Shape[1] + b.Shape[1], a.Shape[2], a.Shape[3]);
        be.ConcatChannels(a, b, y);
        return y;
    }

    public static Tensor UpsampleNearest2x(this IBackend be, Tensor x) => be.UpsampleNearest2x(x, x.Shape[2] * 2, x.Shape[3] * 2);

    /// <summary>Nearest 2x into <paramref name="height"/> x <paramref name="width"/> (2H or 2H - 1, 2W or 2W - 1; see <see cref="IBackend.UpsampleNearest2x"/>).</summary>
    public static Tensor UpsampleNearest2x(this IBackend be, Tensor x, int height, int width)
    {
        var y = be.Allocate(x.Shape[0], x.Shape[1], height, width);
        be.UpsampleNearest2x(x, y);
        return y;
    }

    // [N, C, H, W] -> [N, H*W, C]
    public static Tensor ChannelsToTokens(this IBackend be, Tensor x)
    {
        var y = be.Allocate(x.Shape[0], x.Shape[2] * x.Shape[3], x.Shape[1]);
        be.ChannelsToTokens(x, y);
        return y;
    }

    // [N, H*W, C] -> [N, C, H, W]
    public static Tensor TokensToChannels(this IBackend be, Tensor x, int height, int width)
    {
        var y = be.Allocate(x.Shape[0], x.Shape[2], height, width);
        be.TokensToChannels(x, y);
        return y;
    }
}
