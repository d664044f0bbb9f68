using System.Runtime.ExceptionServices;
using IIP.Native;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// Lifetimes and CUDA graphs. <see cref="UseArena"/> sends the tensors allocated inside the scope to an arena
/// (for example a model's weights, freed together). <see cref="Capture"/> records a fixed-shape sequence of ops (a UNet
/// step) into a graph whose activations live in an arena of its own: replays reuse the same addresses, so the captured
/// input tensors are refilled with <see cref="CudaBackend.CopyFromHost"/> (or device ops) before each
/// <see cref="CapturedGraph.Replay"/> and the outputs are read after it.
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>Until the returned scope is disposed, new tensors and scratch come from <paramref name="arena"/>.</summary>
    public IDisposable UseArena(CudaArena arena)
    {
        var previous = _arena;
        _arena = arena;
        return new Scope(() => _arena = previous);
    }

    /// <summary>
    /// Runs <paramref name="record"/> once under stream capture (nothing executes) and instantiates the graph.
    /// Inside it: no <see cref="FromHost"/> of new data, <see cref="ToHost"/> or reading a norm (they need the host);
    /// tensors allocated inside belong to the graph's arena and stay valid while the graph lives. Tensors made before
    /// the capture and read by it (weights, inputs) are replayed by address: keep them referenced while the graph lives.
    /// </summary>
    public CapturedGraph Capture(Action record, long arenaChunkBytes = 256L << 20)
    {
        if (_capturing) throw new InvalidOperationException("a graph capture is already in progress on this backend");
        var arena = new CudaArena(Device, arenaChunkBytes);
        CudaGraph? graph = null;
        try
        {
            using (UseArena(arena))
            {
                _capturing = true;
                Exception? failure = null;
                // Relaxed: an arena chunk may be allocated (cuMemAlloc) while recording.
                Stream.BeginCapture(CudaStreamCaptureMode.Relaxed);
                try
                {
                    record();
                }
                catch (Exception e)
                {
                    failure = e;
                }
                _capturing = false;
                try
                {
                    graph = Stream.EndCapture();  // always end it, so the stream runs work again
                }
                catch (CudaException) when (failure is not null)
                {
                    // the recording already failed: report that, not the invalidated capture
                }
                if (failure is not null) ExceptionDispatchInfo.Throw(failure);
            }
            return new CapturedGraph(this, graph!, graph!.Instantiate(), arena);
        }
        catch
        {
            graph?.Dispose();
            arena.Dispose();
            throw;
        }
    }

    /// <summary><see cref="IGraphRecording.Record"/>: <see cref="Capture"/> with the default arena chunk.</summary>
    public IRecordedGraph Record(Action record) => Capture(record);

    /// <summary>A recorded op sequence with its arena; <see cref="Replay"/> queues it on the backend's stream.</summary>
    public sealed class CapturedGraph : IRecordedGraph
    {
        private readonly CudaBackend _backend;
        private readonly CudaGraph _graph;
        private readonly CudaGraphExec _exec;

        public CudaArena Arena { get; }

        internal CapturedGraph(CudaBackend backend, CudaGraph graph, CudaGraphExec exec, CudaArena arena)
        {
            _backend = backend;
            _graph = graph;
            _exec = exec;
            Arena = arena;
        }

        public void Replay() => _exec.Launch(_backend.Stream);

        public void Dispose()
        {
            _exec.Dispose();
            _graph.Dispose();
            Arena.Dispose();
        }
    }

    private sealed class Scope(Action onDispose) : IDisposable
    {
        private Action? _onDispose = onDispose;

        public void Dispose()
        {
            _onDispose?.Invoke();
            _onDispose = null;
        }
    }
}
