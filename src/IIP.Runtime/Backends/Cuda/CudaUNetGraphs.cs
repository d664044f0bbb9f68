using IIP.Runtime.Models.Unet;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cuda;

/// <summary>
/// The UNet forward of the sampling and inversion loops as CUDA graphs: the first call for a latent and context shape
/// records one forward (<see cref="CudaBackend.Capture"/>); every call copies the latent, the timestep features and the
/// context into the recorded inputs and replays it, which removes the host's per-op launch work (hundreds of launches
/// per forward). The results are the eager forward's bit for bit (the same kernels in the same order). One graph per
/// shape is kept, for the life of this object; its activations live in the graph's arena (about one forward's
/// intermediates without reuse: a few GiB for SD v1 at batch 2 and 64x64).
/// </summary>
public sealed class CudaUNetGraphs(CudaBackend gpu, UNet2DConditionModel unet) : IDisposable
{
    private sealed record Recorded(CudaBackend.CapturedGraph Graph, Tensor Sample, Tensor Features, Tensor Context, Tensor Eps);

    private readonly Dictionary<(int N, int C, int H, int W, int Tokens, int Width), Recorded> _graphs = [];

    /// <summary>
    /// eps [N, Cout, H, W] for sample [N, Cin, H, W] (host), one timestep per item and context [N, S, D] (on the GPU).
    /// The returned tensor belongs to the graph: read it before the next call.
    /// </summary>
    public Tensor Forward(Tensor sample, ReadOnlySpan<float> timesteps, Tensor context)
    {
        var key = (sample.Shape[0], sample.Shape[1], sample.Shape[2], sample.Shape[3], context.Shape[1], context.Shape[2]);
        if (_graphs.TryGetValue(key, out var recorded))
        {
            gpu.CopyFromHost(sample, recorded.Sample);
            gpu.CopyFromHost(unet.TimestepFeaturesOnHost(timesteps), recorded.Features);
            gpu.CopyOnDevice(context, recorded.Context);
        }
        else
        {
            var input = gpu.FromHost(sample);
            var features = unet.TimestepFeatures(timesteps);
            var contextInput = gpu.AllocateUnscoped(context.Shape);   // the graph reads it on every replay
            gpu.CopyOnDevice(context, contextInput);
            Tensor? eps = null;
            var graph = gpu.Capture(() => eps = unet.Forward(input, features, contextInput));
            _graphs[key] = recorded = new Recorded(graph, input, features, contextInput, eps!);
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
