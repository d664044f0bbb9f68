using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Engine.Autograd;

/// <summary>
/// Reverse-mode differentiation at module granularity. A recorded forward pushes one entry per module call
/// (its output, its inputs and a function from dL/d(output) to dL/d(inputs)); module backward functions
/// recompute their internals from the saved inputs, so memory holds module inputs only, not every
/// intermediate. Gradients flow only into tensors that depend on a watched tensor; tensors are tracked by
/// reference (a reshaped view is a different tensor: record modules, not views).
/// </summary>
public sealed class GradientTape(IBackend backend)
{
    private sealed record Entry(Tensor Output, Tensor[] Inputs, Func<Tensor, Tensor?[]> Backward);

    private readonly List<Entry> _entries = [];
    private readonly HashSet<Tensor> _tracked = new(ReferenceEqualityComparer.Instance);

    /// <summary>Marks <paramref name="tensor"/> as a tensor to differentiate with respect to.</summary>
    public void Watch(Tensor tensor) => _tracked.Add(tensor);

    /// <summary>Whether a gradient can flow into <paramref name="tensor"/>.</summary>
    public bool IsTracked(Tensor tensor) => _tracked.Contains(tensor);

    /// <summary>
    /// Records a module call. <paramref name="backward"/> maps dL/d(output) to one gradient per input, in order
    /// (null for inputs that need none; check <see cref="IsTracked"/> to skip work). Returns the output.
    /// </summary>
    public Tensor Record(Tensor output, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        if (inputs.Any(IsTracked))
        {
            _tracked.Add(output);
            _entries.Add(new Entry(output, inputs, backward));
        }
        return output;
    }

    /// <summary>
    /// Back-propagates <paramref name="seed"/> = dL/d(<paramref name="output"/>) through the recorded entries in
    /// reverse order and returns dL/d(<paramref name="target"/>) (zeros if the output does not depend on it).
    /// </summary>
    public Tensor Gradient(Tensor output, Tensor seed, Tensor target)
    {
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [output] = seed };
        for (int e = _entries.Count - 1; e >= 0; e--)
        {
            var entry = _entries[e];
            if (!grads.Remove(entry.Output, out var dy)) continue;
            var dxs = entry.Backward(dy);
            for (int i = 0; i < entry.Inputs.Length; i++)
            {
                var input = entry.Inputs[i];
                if (dxs[i] is not { } dx || !IsTracked(input)) continue;
                if (grads.TryGetValue(input, out var acc)) backend.Add(acc, dx, acc);
                else grads[input] = dx;
            }
        }
        return grads.TryGetValue(target, out var g) ? g : Zeros(target.Shape);
    }

    private Tensor Zeros(int[] shape) => backend.FromHost(new Tensor(shape));
}
