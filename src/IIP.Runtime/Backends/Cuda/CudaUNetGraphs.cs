using IIP.Runtime.Models.Unet;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cuda;

/// <summary>
/// The UNet forward of the sampling and inversion loops as CUDA graphs: the first call for a latent shape and context
/// records one forward (<see cref="CudaBackend.Capture"/>), later calls copy the latent and the timestep features into
/// the recorded inputs and replay it, which removes the host's per-op launch work (hundreds of launches per forward).
/// The results are the eager forward's bit for bit (the same kernels in the same order). One graph per latent shape is
/// kept; a new context tensor (another prompt or image) records again. Its activations live in the graph's arena
/// (about one forward's intermediates without reuse: a few GiB for SD v1 at batch 2 and 64x64).
/// </summary>
public sealed class CudaUNetGraphs(CudaBackend gpu, UNet2DConditionModel unet) : IDisposable
{
    private sealed record Recorded(CudaBackend.CapturedGraph Graph, Tensor Sample, Tensor Features, Tensor Context, Tensor Eps);

    private readonly Dictionary<(int N, int C, int H, int W), Recorded> _graphs = [];

    /// <summary>
    /// eps [N, Cout, H, W] for sample [N, Cin, H, W] (host), one timestep per item and context [N, S, D] (on the GPU; keep
    /// passing the same tensor to replay). The returned tensor belongs to the graph: read it before the next call.
    /// </summary>
    public Tensor Forward(Tensor sample, ReadOnlySpan<float> timesteps, Tensor context)
    {
        var key = (sample.Shape[0], sample.Shape[1], sample.Shape[2], sample.Shape[3]);
        if (_graphs.TryGetValue(key, out var recorded) && ReferenceEquals(recorded.Context, context))
        {
            gpu.CopyFromHost(sample, recorded.Sample);
            gpu.CopyFromHost(unet.TimestepFeaturesOnHost(timesteps), recorded.Features);
        }
        else
        {
            recorded?.Graph.Dispose();
            var input = gpu.FromHost(sample);
            var features = unet.TimestepFeatures(timesteps);
            Tensor? eps = null;
            var graph = gpu.Capture(() => eps = unet.Forward(input, features, context));
            _graphs[key] = recorded = new Recorded(graph, input, features, context, eps!);
        }
        recorded.Graph.Replay();
        return recorded.Eps;
    }

    public void Dispose()
    {
        foreach (var recorded in _graphs.Values) recorded.Graph.Dispose();
        _graphs.Clear();
    }
}
