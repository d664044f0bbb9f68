namespace IIP.Runtime.Backends.Cpu.Gemm;

/// <summary>
/// Per-thread packing buffers, 64-byte aligned, grown on demand and then reused: the GEMM hot path allocates
/// nothing. The arrays live on the pinned object heap, so their addresses stay fixed and the GC frees them
/// with their thread.
/// </summary>
internal static unsafe class GemmScratch
{
    [ThreadStatic] private static Buffer? t_a;
    [ThreadStatic] private static Buffer? t_b;
    [ThreadStatic] private static Buffer? t_extra;

    /// <summary>The packed-A block of the calling thread.</summary>
    public static float* A(long floats) => Get(ref t_a, floats);

    /// <summary>The packed-B block of the calling thread (shared read-only with its workers during one GEMM).</summary>
    public static float* B(long floats) => Get(ref t_b, floats);

    /// <summary>A third buffer for callers of the GEMM (attention scores, convolution staging).</summary>
    public static float* Extra(long floats) => Get(ref t_extra, floats);

    private static float* Get(ref Buffer? slot, long floats)
    {
        if (slot is null || slot.Capacity < floats)
            slot = new Buffer(Math.Max(floats, (slot?.Capacity ?? 0) * 3 / 2));
        return slot.Pointer;
    }

    private sealed class Buffer
    {
        private const int AlignFloats = 16;  // 64 bytes
        private readonly float[] _array;

        public Buffer(long floats)
        {
            _array = GC.AllocateUninitializedArray<float>(checked((int)(floats + AlignFloats)), pinned: true);
            fixed (float* p = _array)
            {
                long misalign = ((long)p & 63) / sizeof(float);
                Pointer = p + (misalign == 0 ? 0 : AlignFloats - misalign);
            }
            Capacity = floats;
        }

        public long Capacity { get; }

        public float* Pointer { get; }
    }
}
