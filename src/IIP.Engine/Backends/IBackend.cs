using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Backends;

/// <summary>Padding of a 2-D convolution, per side (the VAE encoder's downsample pads right and bottom only).</summary>
public readonly record struct Padding2d(int Top, int Left, int Bottom, int Right)
{
    public static Padding2d Same(int p) => new(p, p, p, p);
}

/// <summary>
/// One method per op, written sources -> attributes -> destination. Every destination is allocated by
/// the caller (see <see cref="BackendExtensions"/> for allocating forms) with the shape in the comment;
/// implementations check shapes and throw <see cref="ArgumentException"/> naming the op.
/// The CPU backend is the reference; every other backend is tested against it.
/// </summary>
public interface IBackend
{
    string Name { get; }

    /// <summary>What the backend runs on, for reports (the GPU's name and memory; <see cref="Name"/> by default).</summary>
    string Description => Name;

    /// <summary>How tensors are stored between ops (fp32 by default), which decides the tolerances a result is judged by.</summary>
    StoragePrecision Precision => StoragePrecision.Fp32;

    /// <summary>Graph recording and replay where the backend has it (<see cref="IGraphRecording"/>); null by default.</summary>
    IGraphRecording? GraphRecording => null;

    /// <summary>
    /// <paramref name="weights"/> made resident on this backend in one pass where that is cheaper than tensor by tensor
    /// (the CUDA backend uploads a model part into one fp16 allocation, <see cref="IResidentWeights"/>); by default the
    /// same source, read tensor by tensor as the modules ask.
    /// </summary>
    IWeightSource MakeResident(IWeightSource weights) => weights;

    /// <summary>A new uninitialised tensor on this backend.</summary>
    Tensor Allocate(params int[] shape);

    /// <summary>
    /// Opens a lifetime for intermediate activations on the calling thread (see <see cref="ActivationScope"/>);
    /// backends without an activation pool return <see cref="ActivationScope.None"/>.
    /// </summary>
    ActivationScope OpenScope() => ActivationScope.None;

    /// <summary>A copy of a host tensor on this backend (the same tensor on the CPU).</summary>
    Tensor FromHost(Tensor host);

    /// <summary>A host copy (the same tensor on the CPU).</summary>
    Tensor ToHost(Tensor tensor);

    /// <summary>
    /// Gives <paramref name="tensor"/>'s memory back now instead of when it is collected: for uploads (<see cref="FromHost"/>)
    /// and other tensors no <see cref="ActivationScope"/> owns. Neither it nor a view of it may be used after. Host tensors,
    /// weights and a recorded graph's tensors are left alone (nothing to do on the CPU).
    /// </summary>
    void Release(Tensor tensor) { }

    /// <summary>The DDIM steps between UNet calls on this backend's tensors (fused kernels on the CUDA backend).</summary>
    ISamplingSteps SamplingSteps => HostSamplingSteps.Instance;

    /// <summary>y = x W^T + b (PyTorch Linear). x [M, K], w [N, K], b [N] or null -> y [M, N].</summary>
    void Linear(Tensor x, Tensor w, Tensor? b, Tensor y);

    /// <summary>
    /// Cross-correlation as PyTorch Conv2d. x [N, C, H, W], w [O, C, KH, KW], b [O] or null,
    /// stride, zero padding -> y [N, O, (H + top + bottom - KH) / stride + 1, (W + left + right - KW) / stride + 1].
    /// </summary>
    void Conv2d(Tensor x, Tensor w, Tensor? b, int stride, Padding2d padding, Tensor y);

    /// <summary>
    /// GroupNorm (Wu and He 2018, biased variance), optionally followed by SiLU.
    /// x [N, C, *spatial], gamma [C], beta [C] -> y like x.
    /// </summary>
    void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor y);

    /// <summary>LayerNorm over the last axis (biased variance). x [.., C], gamma [C], beta [C] -> y like x.</summary>
    void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y);

    /// <summary>
    /// Multi-head scaled dot-product attention, softmax(q k^T / sqrt(d)) v per head, d = C / heads;
    /// heads are contiguous slices of the channel axis. q [B, Tq, C], k [B, Tk, C], v [B, Tk, Cv]
    /// -> y [B, Tq, Cv]. causal masks keys after the query position (needs Tq == Tk).
    /// </summary>
    void Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor y);

    /// <summary>y = a + b, same shapes (y may alias a or b).</summary>
    void Add(Tensor a, Tensor b, Tensor y);

    /// <summary>y[n, c, ...] = x[n, c, ...] + bias[n, c]. x [N, C, *spatial], bias [N, C] -> y like x.</summary>
    void AddChannelBias(Tensor x, Tensor bias, Tensor y);

    /// <summary>y = alpha * x + beta * z, elementwise (y may alias x or z).</summary>
    void Axpby(float alpha, Tensor x, float beta, Tensor z, Tensor y);

    /// <summary>y = x * sigmoid(x).</summary>
    void Silu(Tensor x, Tensor y);

    /// <summary>y = x * sigmoid(1.702 x) (CLIP's quick_gelu).</summary>
    void QuickGelu(Tensor x, Tensor y);

    /// <summary>Exact GELU, x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (torch.nn.functional.gelu).</summary>
    void Gelu(Tensor x, Tensor y);

    /// <summary>
    /// GEGLU (Shazeer 2020) as diffusers: hidden, gate = x.chunk(2, -1); y = hidden * gelu(gate), exact erf GELU.
    /// x [.., 2D] -> y [.., D].
    /// </summary>
    void Geglu(Tensor x, Tensor y);

    /// <summary>
    /// y = GEGLU(x W^T + b): a Linear and then <see cref="Geglu"/>, the feed-forward projection of SD's transformer blocks.
    /// x [M, K], w [2D, K], b [2D] or null -> y [M, D]. A backend may fuse the two and never store the [M, 2D]
    /// projection (the CPU backend does for model weights); this default runs them one after the other.
    /// </summary>
    void LinearGeglu(Tensor x, Tensor w, Tensor? b, Tensor y) => LinearThenGeglu(this, x, w, b, y);

    /// <summary><see cref="LinearGeglu"/> unfused: the [M, 2D] projection by <see cref="Linear"/>, then <see cref="Geglu"/>.</summary>
    static void LinearThenGeglu(IBackend be, Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        var projected = be.Allocate(x.Shape[0], w.Shape[0]);
        be.Linear(x, w, b, projected);
        be.Geglu(projected, y);
    }

    /// <summary>Channel concatenation. a [N, Ca, H, W], b [N, Cb, H, W] -> y [N, Ca + Cb, H, W].</summary>
    void ConcatChannels(Tensor a, Tensor b, Tensor y);

    /// <summary>
    /// Nearest-neighbour upsampling by 2, y[.., i, j] = x[.., i / 2, j / 2], into y of 2H or 2H - 1 rows and 2W or 2W - 1
    /// columns: the last row or column cut off where the UNet's skip connection is odd-sized, which is what diffusers'
    /// interpolate(size=skip, mode="nearest") computes then (source row floor(i H / (2H - 1)) = i / 2 for i &lt; 2H - 1).
    /// x [N, C, H, W] -> y [N, C, 2H or 2H - 1, 2W or 2W - 1].
    /// </summary>
    void UpsampleNearest2x(Tensor x, Tensor y);

    /// <summary>x [N, C, H, W] -> y [N, H * W, C].</summary>
    void ChannelsToTokens(Tensor x, Tensor y);

    /// <summary>x [N, H * W, C] -> y [N, C, H, W].</summary>
    void TokensToChannels(Tensor x, Tensor y);
}
