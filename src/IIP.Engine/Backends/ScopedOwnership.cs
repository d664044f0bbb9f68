using IIP.Engine.Tensors;

namespace IIP.Engine.Backends;

/// <summary>
/// The bookkeeping behind a backend's <see cref="ActivationScope"/>s: per-thread nested scopes, each owning the
/// allocations (<typeparamref name="T"/>: a CPU array, a CUDA pool buffer) made on its thread while it is the innermost
/// open scope of this owner. <see cref="ActivationScope.Keep"/> moves a tensor's allocation to the enclosing scope;
/// closing a scope hands the rest to <c>release</c>. Scopes must close innermost first, on the thread that opened them.
/// </summary>
/// <param name="allocationOf">The allocation behind a tensor of this backend, or null for tensors it does not own.</param>
/// <param name="release">Takes back the allocations of a closed scope (they are dead: nothing may read them after).</param>
internal sealed class ScopedOwnership<T>(Func<Tensor, T?> allocationOf, Action<List<T>> release) where T : class
{
    private readonly Func<Tensor, T?> _allocationOf = allocationOf;
    private readonly Action<List<T>> _release = release;

    // one stack of open scopes per thread and allocation type; a scope belongs to the ScopedOwnership that opened it
    [ThreadStatic] private static Scope? t_current;

    /// <summary>Opens a scope on the calling thread, nested in the one open there.</summary>
    public ActivationScope Open() => t_current = new Scope(this, t_current);

    /// <summary>Whether the calling thread's innermost open scope is one of this owner's.</summary>
    public bool IsOpen => t_current is { } scope && scope.Owner == this;

    /// <summary>Gives <paramref name="allocation"/> to the thread's innermost open scope of this owner; false when there is none.</summary>
    public bool Track(T allocation)
    {
        var scope = t_current;
        if (scope is null || scope.Owner != this) return false;
        scope.Owned.Add(allocation);
        return true;
    }

    private sealed class Scope(ScopedOwnership<T> owner, Scope? parent) : ActivationScope
    {
        public ScopedOwnership<T> Owner => owner;
        public List<T> Owned { get; } = [];
        private bool _closed;

        public override Tensor Keep(Tensor tensor)
        {
            if (_closed) throw new InvalidOperationException("ActivationScope.Keep after the scope was closed");
            if (owner._allocationOf(tensor) is not { } allocation) return tensor;
            // Search from the end: the kept tensor is usually the last one allocated.
            for (int i = Owned.Count - 1; i >= 0; i--)
                if (ReferenceEquals(Owned[i], allocation))
                {
                    Owned.RemoveAt(i);
                    parent?.Owned.Add(allocation);
                    break;
                }
            return tensor;
        }

        public override void Dispose()
        {
            if (_closed) return;
            if (t_current != this)
                throw new InvalidOperationException("ActivationScope closed out of order (or on another thread): close the innermost scope first");
            _closed = true;
            t_current = parent;
            owner._release(Owned);
            Owned.Clear();
        }
    }
}
