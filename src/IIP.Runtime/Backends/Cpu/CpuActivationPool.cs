using IIP.Runtime.Tensors;

namespace IIP.Runtime.Backends.Cpu;

/// <summary>
/// The CPU backend's activation pool: arrays released by closed <see cref="ActivationScope"/>s, by exact length,
/// handed out again by <see cref="CpuBackend.Allocate"/>. A UNet forward at a 64x64 latent allocates about 1.7 GB
/// of activations; fresh arrays cost a page fault per 4 KiB (about 440,000 per forward, seconds of kernel time on
/// a 2-core VM), while pooled ones are already mapped and often still in cache. Scopes are per thread; the pool
/// is shared by all threads. Idle arrays beyond <see cref="MaxIdleBytes"/> are left to the GC.
/// </summary>
internal sealed class CpuActivationPool
{
    /// <summary>Upper bound on the bytes the pool holds idle (the live set of a UNet forward at batch 2 is far less).</summary>
    public const long MaxIdleBytes = 4L << 30;

    private readonly Dictionary<int, Stack<float[]>> _idle = new();
    private readonly Lock _lock = new();
    private long _idleBytes;

    [ThreadStatic] private static Scope? t_current;

    /// <summary>Bytes held idle now.</summary>
    public long IdleBytes { get { lock (_lock) return _idleBytes; } }

    /// <summary>Opens a scope on the calling thread, nested in the one open there.</summary>
    public ActivationScope Open() => t_current = new Scope(this, t_current);

    /// <summary>An array of exactly <paramref name="length"/> elements, uninitialised; tracked by the thread's open scope.</summary>
    public float[] Rent(int length)
    {
        var scope = t_current;
        if (scope is null || scope.Pool != this) return GC.AllocateUninitializedArray<float>(length);
        float[]? array = null;
        lock (_lock)
        {
            if (_idle.TryGetValue(length, out var stack) && stack.TryPop(out array))
                _idleBytes -= 4L * length;
        }
        array ??= GC.AllocateUninitializedArray<float>(length);
        scope.Owned.Add(array);
        return array;
    }

    private void Return(List<float[]> arrays)
    {
        lock (_lock)
            foreach (var array in arrays)
            {
                if (_idleBytes + 4L * array.Length > MaxIdleBytes) continue;
                if (!_idle.TryGetValue(array.Length, out var stack)) _idle[array.Length] = stack = new Stack<float[]>();
                stack.Push(array);
                _idleBytes += 4L * array.Length;
            }
    }

    private sealed class Scope(CpuActivationPool pool, Scope? parent) : ActivationScope
    {
        public CpuActivationPool Pool => pool;
        public List<float[]> Owned { get; } = [];
        private bool _closed;

        public override Tensor Keep(Tensor tensor)
        {
            if (_closed) throw new InvalidOperationException("ActivationScope.Keep after the scope was closed");
            if (!tensor.IsHost) return tensor;
            var data = tensor.Data;
            // Search from the end: the kept tensor is usually the last one allocated.
            for (int i = Owned.Count - 1; i >= 0; i--)
                if (ReferenceEquals(Owned[i], data))
                {
                    Owned.RemoveAt(i);
                    parent?.Owned.Add(data);
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
            pool.Return(Owned);
            Owned.Clear();
        }
    }
}
