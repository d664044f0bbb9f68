namespace IIP.Engine.Tensors;

/// <summary>
/// Seeded standard-normal noise, the same on every machine: xoshiro256** (Blackman and Vigna 2018) seeded by
/// splitmix64, Box-Muller transform in double. Not PyTorch's generator: seeds do not reproduce torch.randn.
/// </summary>
public sealed class GaussianNoise
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spare;

    public GaussianNoise(long seed)
    {
        ulong x = (ulong)seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in (0, 1): 53 random bits, never 0.</summary>
    public double NextUniform() => ((NextUInt64() >> 11) + 0.5) * (1.0 / (1UL << 53));

    public double NextGaussian()
    {
        if (_spare is { } s) { _spare = null; return s; }
        double u1 = NextUniform(), u2 = NextUniform();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spare = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A tensor of independent N(0, 1) samples.</summary>
    public Tensor Sample(params int[] shape)
    {
        var t = new Tensor(shape);
        for (long i = 0; i < t.Length; i++) t.Data[i] = (float)NextGaussian();
        return t;
    }
}
