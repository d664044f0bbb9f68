using IIP.Engine.Tensors;

namespace IIP.Engine.Backends.Cpu;

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
    private readonly ScopedOwnership<float[]> _scopes;
    private long _idleBytes;

    public CpuActivationPool() => _scopes = new(tensor => tensor.IsHost ? tensor.Data : null, Return);

    /// <summary>Bytes held idle now.</summary>
    public long IdleBytes { get { lock (_lock) return _idleBytes; } }

    /// <summary>Opens a scope on the calling thread, nested in the one open there.</summary>
    public ActivationScope Open() => _scopes.Open();

    /// <summary>An array of exactly <paramref name="length"/> elements, uninitialised; tracked by the thread's open scope.</summary>
    public float[] Rent(int length)
    {
        if (!_scopes.IsOpen) return GC.AllocateUninitializedArray<float>(length);   // no scope: the caller owns it for good
        float[]? array = null;
        lock (_lock)
        {
            if (_idle.TryGetValue(length, out var stack) && stack.TryPop(out array))
                _idleBytes -= 4L * length;
        }
        array ??= GC.AllocateUninitializedArray<float>(length);
        _scopes.Track(array);
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
}
