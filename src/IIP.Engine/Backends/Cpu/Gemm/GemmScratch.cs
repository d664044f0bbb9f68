namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// Per-thread packing buffers, 64-byte aligned, grown on demand and then reused: packing and the kernels
/// allocate nothing (a GEMM call allocates only its small job object and the Parallel.For delegates). The arrays live on the pinned object heap, so their addresses stay fixed and the GC frees them
/// with their thread. They keep their largest size (for the UNet's GEMMs, tens of MiB at most).
/// Shared buffers are used by the thread that started a GEMM until it returns; private ones only inside one work
/// item, which never waits, so a thread that helps with another GEMM meanwhile cannot overwrite them.
/// </summary>
internal static unsafe class GemmScratch
{
    [ThreadStatic] private static Buffer? t_sharedA;
    [ThreadStatic] private static Buffer? t_sharedB;
    [ThreadStatic] private static Buffer? t_privateA;
    [ThreadStatic] private static Buffer? t_privateB;
    [ThreadStatic] private static Buffer? t_privateC;
    [ThreadStatic] private static Buffer? t_extra;

    /// <summary>Packed A of a GEMM started on this thread, read by all its workers.</summary>
    public static float* SharedA(long floats) => Get(ref t_sharedA, floats);

    /// <summary>Packed B of a GEMM started on this thread, read by all its workers.</summary>
    public static float* SharedB(long floats) => Get(ref t_sharedB, floats);

    /// <summary>A panels one work item packs for itself on this thread.</summary>
    public static float* PrivateA(long floats) => Get(ref t_privateA, floats);

    /// <summary>B panels one work item packs for itself on this thread.</summary>
    public static float* PrivateB(long floats) => Get(ref t_privateB, floats);

    /// <summary>The C block one work item accumulates in before it is added to C.</summary>
    public static float* PrivateC(long floats) => Get(ref t_privateC, floats);

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
