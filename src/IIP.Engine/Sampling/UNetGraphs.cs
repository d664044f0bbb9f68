using IIP.Engine.Backends;
using IIP.Engine.Models.Unet;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Sampling;

/// <summary>
/// The UNet forward of the sampling and inversion loops as recorded graphs (CUDA graphs on the CUDA backend): the first
/// call for a latent and context shape records one forward (<see cref="IGraphRecording.Record"/>); every call copies the latent, the timestep features and the
/// context into the recorded inputs (device to device when they are on the GPU already) and replays it, which removes
/// the host's per-op launch work (hundreds of launches per forward). The results are the eager forward's bit for bit (the same kernels in the same order). One graph per
/// shape is kept, for the life of this object; its activations live in the graph's arena (about one forward's
/// intermediates without reuse: a few GiB for SD v1 at batch 2 and 64x64).
/// </summary>
public sealed class UNetGraphs(IGraphRecording gpu, UNet2DConditionModel unet) : IDisposable
{
    private sealed record Recorded(IRecordedGraph Graph, Tensor Sample, Tensor Features, Tensor Context, Tensor Eps);

    private readonly Dictionary<(int N, int C, int H, int W, int Tokens, int Width), Recorded> _graphs = [];

    /// <summary>
    /// eps [N, Cout, H, W] for sample [N, Cin, H, W] (on the GPU or the host), timestep features [N, C0] and context
    /// [N, S, D] (on the GPU). The returned tensor belongs to the graph: use it before the next call.
    /// </summary>
    public Tensor Forward(Tensor sample, Tensor features, Tensor context)
    {
        var key = (sample.Shape[0], sample.Shape[1], sample.Shape[2], sample.Shape[3], context.Shape[1], context.Shape[2]);
        if (!_graphs.TryGetValue(key, out var recorded))
        {
            // the graph reads its inputs from these tensors on every replay
            var input = gpu.AllocateUnscoped(sample.Shape);
            var featureInput = gpu.AllocateUnscoped(features.Shape);
            var contextInput = gpu.AllocateUnscoped(context.Shape);
            gpu.CopyInto(sample, input);
            gpu.CopyInto(features, featureInput);
            gpu.CopyInto(context, contextInput);
            Tensor? eps = null;
            var graph = gpu.Record(() => eps = unet.Forward(input, featureInput, contextInput));
            _graphs[key] = recorded = new Recorded(graph, input, featureInput, contextInput, eps!);
        }
        else
        {
            gpu.CopyInto(sample, recorded.Sample);
            gpu.CopyInto(features, recorded.Features);
            gpu.CopyInto(context, recorded.Context);
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
