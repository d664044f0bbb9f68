namespace IIP.WeightConvert;

/// <summary>
/// Deterministic standard-normal samples addressed by (seed, stream, chunk): SplitMix64 (Steele, Lea, Flood
/// 2014) as the uniform source and the Box-Muller transform z = sqrt(-2 ln u1) (cos 2 pi u2, sin 2 pi u2), in fp32.
/// Each chunk seeds its own generator, so chunks can be filled in parallel with the same result.
/// </summary>
public static class NormalSampler
{
    public const int ChunkSize = 1 << 16;

    /// <summary>FNV-1a 64-bit hash of a string, stable across processes (unlike string.GetHashCode).</summary>
    public static ulong StableHash(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (char c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    /// <summary>Fills <paramref name="destination"/> with N(0, std^2) samples of stream <paramref name="stream"/> under <paramref name="seed"/>.</summary>
    public static void Fill(Span<float> destination, ulong seed, ulong stream, double std)
    {
        int chunks = (destination.Length + ChunkSize - 1) / ChunkSize;
        unsafe
        {
            fixed (float* basePointer = destination)
            {
                nint address = (nint)basePointer;
                int length = destination.Length;
                Parallel.For(0, chunks, chunk =>
                {
                    int start = chunk * ChunkSize;
                    var span = new Span<float>((float*)address + start, Math.Min(ChunkSize, length - start));
                    FillChunk(span, Mix(seed ^ Mix(stream ^ Mix((ulong)chunk))), std);
                });
            }
        }
    }

    private static void FillChunk(Span<float> span, ulong state, double std)
    {
        float scale = (float)std;
        for (int i = 0; i < span.Length; i += 2)
        {
            // One 64-bit draw gives two 24-bit uniforms: u1 in (0, 1] keeps the logarithm finite
            // (|z| <= sqrt(2 ln 2^24) = 5.77), u2 in [0, 1).
            ulong bits = Next(ref state);
            float u1 = ((bits >> 40) + 1) * (1.0f / (1 << 24));
            float u2 = ((bits >> 16) & 0xFFFFFF) * (1.0f / (1 << 24));
            float radius = MathF.Sqrt(-2.0f * MathF.Log(u1)) * scale;
            var (sin, cos) = MathF.SinCos(2.0f * MathF.PI * u2);
            span[i] = radius * cos;
            if (i + 1 < span.Length) span[i + 1] = radius * sin;
        }
    }

    private static ulong Next(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    // SplitMix64 finalizer.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
