using IIP.Engine.Tensors;

namespace IIP.Engine.Backends;

/// <summary>
/// A backend's ability to record a fixed-shape sequence of its ops once and replay it (CUDA graphs), with what a caller
/// needs to refill the recorded inputs between replays. <see cref="IBackend.GraphRecording"/> offers it where the
/// backend has it (null on the CPU, which runs every op eagerly).
/// </summary>
public interface IGraphRecording
{
    /// <summary>A tensor that no open <see cref="ActivationScope"/> takes back: the recorded graph's inputs, which outlive the call.</summary>
    Tensor AllocateUnscoped(params int[] shape);

    /// <summary>
    /// Copies <paramref name="source"/> (a host tensor or one of this backend's) into this backend's
    /// <paramref name="destination"/> of the same element count, in the order of the queued work.
    /// </summary>
    void CopyInto(Tensor source, Tensor destination);

    /// <summary>
    /// Runs <paramref name="record"/> once without executing it and keeps its ops as a graph; the tensors it allocates
    /// belong to the graph (valid while it lives), and those it reads from outside are replayed by address.
    /// </summary>
    IRecordedGraph Record(Action record);
}

/// <summary>A recorded op sequence (<see cref="IGraphRecording.Record"/>); disposing it frees its activations.</summary>
public interface IRecordedGraph : IDisposable
{
    /// <summary>Queues the recorded ops again, reading the inputs' current values.</summary>
    void Replay();
}
