using System.Numerics.Tensors;
using IIP.Engine.Backends;
using Tensor = IIP.Engine.Tensors.Tensor;


namespace IIP.Engine.Diagnostics;

/// <summary>
/// A host backend decorator that stores like the CUDA backend: every tensor it receives from the host and every op
/// output is rounded to fp16 (round to nearest even) and widened back, while the arithmetic inside each op stays the
/// inner backend's fp32. Running the golden cases through it on the CPU measures how far fp16 storage alone moves each
/// case (forward passes, and the sampling, inversion and optimization chains that amplify it), which is what the
/// fp16 tolerances of <see cref="Golden.GoldenPrecision.Fp16Storage"/> are set from and checked against without a GPU.
/// It does not model the CUDA kernels' internal roundings (attention probabilities, fp16 operands of tensor cores).
/// </summary>
public sealed class Fp16StorageBackend(IGradientBackend inner) : IGradientBackend
{
    public string Name => $"{inner.Name} (fp16 storage)";

    /// <summary>Every op's output is rounded to fp16, as the CUDA backend stores it.</summary>
    public StoragePrecision Precision => StoragePrecision.Fp16;
    public Tensor Allocate(params int[] shape) => inner.Allocate(shape);
    public ActivationScope OpenScope() => inner.OpenScope();
    public Tensor FromHost(Tensor host) => Round(inner.FromHost(host.Clone()));
    public Tensor ToHost(Tensor tensor) => inner.ToHost(tensor);
    public void Release(Tensor tensor) => inner.Release(tensor);

    /// <summary>The inner backend's sampling steps with their outputs (the new latent, the combined prediction) rounded to
    /// fp16, as the CUDA backend stores the latent between a loop's steps.</summary>
    public ISamplingSteps SamplingSteps => _samplingSteps ??= new RoundedSamplingSteps(inner.SamplingSteps);

    private ISamplingSteps? _samplingSteps;

    private sealed class RoundedSamplingSteps(ISamplingSteps steps) : ISamplingSteps
    {
        public void DuplicateBatch(Tensor x, Tensor pair) => steps.DuplicateBatch(x, pair);   // a copy of fp16 values

        public TcnpLog NewTcnpLog(int count, int items) => steps.NewTcnpLog(count, items);

        public void GuidedDdimStep(Tensor outputPair, Tensor x, float guidance, Scheduling.DdimStepCoefficients transfer, Tensor y, TcnpLog log, int step)
        {
            steps.GuidedDdimStep(outputPair, x, guidance, transfer, y, log, step);
            Round(y);
        }

        public void GuidanceCombine(Tensor outputPair, float guidance, Tensor eps)
        {
            steps.GuidanceCombine(outputPair, guidance, eps);
            Round(eps);
        }

        public void DdimTransfer(Tensor x, Tensor prediction, Scheduling.DdimStepCoefficients transfer, Tensor y)
        {
            steps.DdimTransfer(x, prediction, transfer, y);
            Round(y);
        }
    }

    public void Linear(Tensor x, Tensor w, Tensor? b, Tensor y) { inner.Linear(x, w, b, y); Round(y); }
    public void Conv2d(Tensor x, Tensor w, Tensor? b, int stride, Padding2d padding, Tensor y) { inner.Conv2d(x, w, b, stride, padding, y); Round(y); }
    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor y) { inner.GroupNorm(x, gamma, beta, groups, eps, silu, y); Round(y); }
    public void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y) { inner.LayerNorm(x, gamma, beta, eps, y); Round(y); }
    public void Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor y) { inner.Attention(q, k, v, heads, causal, y); Round(y); }
    public void Add(Tensor a, Tensor b, Tensor y) { inner.Add(a, b, y); Round(y); }
    public void AddChannelBias(Tensor x, Tensor bias, Tensor y) { inner.AddChannelBias(x, bias, y); Round(y); }
    public void Axpby(float alpha, Tensor x, float beta, Tensor z, Tensor y) { inner.Axpby(alpha, x, beta, z, y); Round(y); }
    public void Silu(Tensor x, Tensor y) { inner.Silu(x, y); Round(y); }
    public void QuickGelu(Tensor x, Tensor y) { inner.QuickGelu(x, y); Round(y); }
    public void Gelu(Tensor x, Tensor y) { inner.Gelu(x, y); Round(y); }
    public void Geglu(Tensor x, Tensor y) { inner.Geglu(x, y); Round(y); }
    public void ConcatChannels(Tensor a, Tensor b, Tensor y) => inner.ConcatChannels(a, b, y);   // data movement: already fp16 values
    public void UpsampleNearest2x(Tensor x, Tensor y) => inner.UpsampleNearest2x(x, y);
    public void ChannelsToTokens(Tensor x, Tensor y) => inner.ChannelsToTokens(x, y);
    public void TokensToChannels(Tensor x, Tensor y) => inner.TokensToChannels(x, y);

    public void LinearBackwardInput(Tensor dy, Tensor w, Tensor dx) { inner.LinearBackwardInput(dy, w, dx); Round(dx); }
    public void Conv2dBackwardInput(Tensor dy, Tensor w, int stride, Padding2d padding, Tensor dx) { inner.Conv2dBackwardInput(dy, w, stride, padding, dx); Round(dx); }
    public void GroupNormBackward(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool silu, Tensor dy, Tensor dx) { inner.GroupNormBackward(x, gamma, beta, groups, eps, silu, dy, dx); Round(dx); }
    public void LayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx) { inner.LayerNormBackward(x, gamma, eps, dy, dx); Round(dx); }
    public void SiluBackward(Tensor x, Tensor dy, Tensor dx) { inner.SiluBackward(x, dy, dx); Round(dx); }
    public void GegluBackward(Tensor x, Tensor dy, Tensor dx) { inner.GegluBackward(x, dy, dx); Round(dx); }
    public void UpsampleNearest2xBackward(Tensor dy, Tensor dx) { inner.UpsampleNearest2xBackward(dy, dx); Round(dx); }
    public void ConcatChannelsBackward(Tensor dy, Tensor? da, Tensor? db) => inner.ConcatChannelsBackward(dy, da, db);

    public void AttentionBackward(Tensor q, Tensor k, Tensor v, int heads, bool causal, Tensor dy, Tensor? dq, Tensor? dk, Tensor? dv)
    {
        inner.AttentionBackward(q, k, v, heads, causal, dy, dq, dk, dv);
        if (dq is not null) Round(dq);
        if (dk is not null) Round(dk);
        if (dv is not null) Round(dv);
    }

    /// <summary>Rounds a host tensor's values to the nearest fp16 in place (as the CUDA backend's storage does).</summary>
    public static Tensor Round(Tensor t)
    {
        var data = t.Data.AsSpan(0, checked((int)t.Length));
        var half = new Half[data.Length];
        TensorPrimitives.ConvertToHalf(data, half);
        TensorPrimitives.ConvertToSingle(half, data);
        return t;
    }
}
