using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Engine.Diagnostics;

/// <summary>
/// A backend decorator that counts the floating-point operations of the matrix products it runs:
/// 2 M N K per Linear (and LinearGeglu), 2 N O C KH KW Ho Wo per convolution, 2 B heads Tq Tk (d + dv) per attention.
/// Normalizations and elementwise ops are not counted (they are memory-bound; the cost model in
/// shared/docs/ENGINE.md counts the same way).
/// </summary>
public sealed class FlopCountingBackend(IBackend inner) : IBackend
{
    public long Flops { get; private set; }

    public void Reset() => Flops = 0;

    public string Name => inner.Name;
    public Tensor Allocate(params int[] shape) => inner.Allocate(shape);
    public ActivationScope OpenScope() => inner.OpenScope();
    public Tensor FromHost(Tensor host) => inner.FromHost(host);
    public Tensor ToHost(Tensor tensor) => inner.ToHost(tensor);
    public void Release(Tensor tensor) => inner.Release(tensor);

    public void Linear(Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        Flops += 2L * x.Shape[0] * w.Shape[0] * w.Shape[1];
        inner.Linear(x, w, b, y);
    }

    public void LinearGeglu(Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        Flops += 2L * x.Shape[0] * w.Shape[0] * w.Shape[1];
        inner.LinearGeglu(x, w, b, y);
    }

    public void Conv2d(Tensor x, Tensor w, Tensor? b, int stride, Padding2d padding, Tensor y)
    {
        Flops += 2L * y.Shape[0] * y.Shape[1] * y.Shape[2] * y.Shape[3] * w.Shape[1] * w.Shape[2] * w.Shape[3];
        inner.Conv2d(x, w, b, stride, padding, y);
    }

    public void Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor y)
    {
        // per batch item: q k^T is 2 Tq Tk C (all heads), softmax(.) v is 2 Tq Tk Cv
        Flops += 2L * q.Shape[0] * q.Shape[1] * k.Shape[1] * (q.Shape[2] + v.Shape[2]);
        inner.Attention(q, k, v, heads, causal, y);
    }

    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor y) => inner.GroupNorm(x, gamma, beta, groups, eps, silu, y);
    public void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y) => inner.LayerNorm(x, gamma, beta, eps, y);
    public void Add(Tensor a, Tensor b, Tensor y) => inner.Add(a, b, y);
    public void AddChannelBias(Tensor x, Tensor bias, Tensor y) => inner.AddChannelBias(x, bias, y);
    public void Axpby(float alpha, Tensor x, float beta, Tensor z, Tensor y) => inner.Axpby(alpha, x, beta, z, y);
    public void Silu(Tensor x, Tensor y) => inner.Silu(x, y);
    public void QuickGelu(Tensor x, Tensor y) => inner.QuickGelu(x, y);
    public void Gelu(Tensor x, Tensor y) => inner.Gelu(x, y);
    public void Geglu(Tensor x, Tensor y) => inner.Geglu(x, y);
    public void ConcatChannels(Tensor a, Tensor b, Tensor y) => inner.ConcatChannels(a, b, y);
    public void UpsampleNearest2x(Tensor x, Tensor y) => inner.UpsampleNearest2x(x, y);
    public void ChannelsToTokens(Tensor x, Tensor y) => inner.ChannelsToTokens(x, y);
    public void TokensToChannels(Tensor x, Tensor y) => inner.TokensToChannels(x, y);
}
