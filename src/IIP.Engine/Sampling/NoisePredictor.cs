using IIP.Engine.Backends;
using IIP.Engine.Models.Unet;
using IIP.Engine.Tensors;

namespace IIP.Engine.Sampling;

/// <summary>
/// eps_theta(x, t, context): the UNet of a model on its backend, the one noise predictor of every sampling loop
/// (<see cref="DdimSampler"/>). On a backend that records graphs (CUDA) the forward is replayed from a recorded graph
/// (<see cref="UNetGraphs"/>; without <see cref="EngineOptions.CudaGraphs"/> it runs eagerly, the same values), and the timestep features
/// of each timestep vector are uploaded once and kept on the device, so a loop's steps copy nothing from the host.
/// </summary>
public sealed class NoisePredictor : IDisposable
{
    // distinct timestep vectors kept on the backend; a sampler uses a few dozen (one per step of its grids)
    private const int MaxCachedFeatures = 4096;

    private readonly UNetGraphs? _graphs;
    private readonly Dictionary<string, Tensor> _features = [];

    public NoisePredictor(IBackend backend, UNet2DConditionModel unet, bool recordGraphs)
    {
        Backend = backend;
        Unet = unet;
        _graphs = recordGraphs && backend.GraphRecording is { } recording ? new UNetGraphs(recording, unet) : null;
    }

    public IBackend Backend { get; }

    public UNet2DConditionModel Unet { get; }

    /// <summary>
    /// eps [N, C, h, w] on the backend for x [N, C, h, w] (on the backend or the host), one timestep per item and context
    /// [N, S, D] on the backend. The result may belong to a recorded graph: use it before the next call.
    /// </summary>
    public Tensor Predict(Tensor x, ReadOnlySpan<float> timesteps, Tensor context)
    {
        if (timesteps.Length != x.Shape[0] || context.Shape[0] != x.Shape[0])
            throw new ArgumentException($"{x.Shape[0]} latents need as many timesteps and contexts, got {timesteps.Length} and [{context.ShapeText}]");
        var features = Features(timesteps);
        if (_graphs is { } graphs) return graphs.Forward(x, features, context);
        if (!x.IsHost) return Unet.Forward(x, features, context);
        var uploaded = Backend.FromHost(x);
        var eps = Unet.Forward(uploaded, features, context);
        Backend.Release(uploaded);   // queued work still reads it first (stream order)
        return eps;
    }

    // the sinusoidal timestep features [N, C0] on the backend, uploaded once per distinct timestep vector
    private Tensor Features(ReadOnlySpan<float> timesteps)
    {
        string key = string.Join(",", timesteps.ToArray());
        if (_features.TryGetValue(key, out var cached)) return cached;
        var features = Backend.FromHost(Unet.TimestepFeaturesOnHost(timesteps));
        if (_features.Count < MaxCachedFeatures) _features[key] = features;
        return features;
    }

    /// <summary>Frees the recorded graphs and their activations; later calls record again (a bench sweeping batch sizes).</summary>
    public void ReleaseGraphs() => _graphs?.Dispose();

    /// <summary>Frees the recorded graphs and the cached timestep features.</summary>
    public void Dispose()
    {
        _graphs?.Dispose();
        foreach (var features in _features.Values) Backend.Release(features);
        _features.Clear();
    }
}
