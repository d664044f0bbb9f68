using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IIP.Engine.Backends.Cpu;

/// <summary>Vectorised exp, 2^x and erf for the CPU backend's activation and softmax loops (8 or 16 lanes of fp32).</summary>
internal static class VectorMath
{
    /// <summary>
    /// exp(x) = 2^n e^r with n = round(x log2 e) and r = x - n ln 2 (Cody-Waite split of ln 2), e^r from the
    /// Cephes expf polynomial (|r| &lt;= ln 2 / 2, about 2 ulp). Below -87.34 (where 2^n would leave the normal
    /// range) the result is 0, so masked -inf scores vanish exactly; above 88.7 it is +inf.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var lowest = Vector256.Create(-87.33654f);
        var underflow = Vector256.LessThan(x, lowest);
        x = Vector256.Min(Vector256.Max(x, lowest), Vector256.Create(88.7f));
        var n = Vector256.Floor(Vector256.FusedMultiplyAdd(x, Vector256.Create(1.44269504088896341f), Vector256.Create(0.5f)));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500e-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        var er = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        // 2^n through the exponent field; n in [-126, 128) here (128 gives +inf, as exp overflow should).
        var twoToN = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(underflow, Vector256<float>.Zero, er * twoToN);
    }

    /// <summary>
    /// Exponents below which the softmax and erf take exp(x) as exactly 0: -64 ln 2, so the dropped terms are below
    /// 2^-64 (a softmax's largest term is 1; erf's is 1 - tiny; either way far below fp32 resolution). The point is that
    /// nothing sub-normal is made: .NET leaves x86's flush-to-zero and denormals-are-zero modes off, and every FMA with a
    /// sub-normal result or operand then takes a microcode assist of about 100 cycles. A peaked softmax (exp terms down
    /// to 1e-38, times values below 1) made the CPU self-attention at 4096 tokens 18x slower (2.5 s against 0.14 s)
    /// before this floor.
    /// </summary>
    public const float FlushExponent = -44.3614196f;

    /// <summary>
    /// <see cref="FlushExponent"/> for base 2: below it the attention's 2^x (<see cref="Exp2NonPositive(Vector512{float})"/>,
    /// its 8-lane twin, the scalar paths) is exactly 0: terms below 2^-64, for the same reason, no sub-normal numbers.
    /// </summary>
    public const float FlushExponent2 = -64f;

    /// <summary>
    /// x[i] = -inf where x[i] &lt; <see cref="FlushExponent"/>, in place: exp of the result is then exactly 0 instead
    /// of a term below 2^-64 (possibly sub-normal) for whichever exp follows (the row softmax of the attention backward).
    /// </summary>
    public static void FlushNegligibleArguments(Span<float> x)
    {
        var floor = Vector256.Create(FlushExponent);
        var minusInfinity = Vector256.Create(float.NegativeInfinity);
        int i = 0;
        for (; i + 8 <= x.Length; i += 8)
        {
            var v = Vector256.Create<float>(x.Slice(i, 8));
            Vector256.ConditionalSelect(Vector256.LessThan(v, floor), minusInfinity, v).CopyTo(x.Slice(i, 8));
        }
        for (; i < x.Length; i++)
            if (x[i] < FlushExponent) x[i] = float.NegativeInfinity;
    }

    /// <summary>
    /// exp(x) for x &lt;= 0 on 16 lanes (AVX-512F), the softmax case: the same Cody-Waite reduction and Cephes
    /// polynomial as <see cref="Exp(Vector256{float})"/>, 2^n applied with vscalefps; exactly 0 below
    /// <see cref="FlushExponent"/> (and for -inf, masked keys).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpNonPositive(Vector512<float> x)
    {
        var floor = Vector512.Create(FlushExponent);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, floor), Vector512<float>.Zero,
            ExpUnclamped(Avx512F.Max(x, floor)));
    }

    // exp(x) for -87.34 <= x <= 88.72 (the range where 2^n is a normal float).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExpUnclamped(Vector512<float> x)
    {
        var n = Avx512F.RoundScale(x * Vector512.Create(1.44269504088896341f), 0x08);  // nearest, no exceptions
        var r = Avx512F.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Avx512F.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        var er = Avx512F.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        return Avx512F.Scale(er, n);
    }

    /// <summary>
    /// 2^x for x &lt;= 0 on 16 lanes (AVX-512F), the softmax on base-2 scores: n = round(x), f = x - n in [-1/2, 1/2],
    /// 2^f = 1 + c1 f + ... + c6 f^6 (<see cref="Exp2Polynomial"/>), 2^n applied with vscalefps; exactly 0 below
    /// <see cref="FlushExponent2"/> (and for -inf, masked keys, whose NaN intermediates the select discards). 13 vector
    /// operations against <see cref="ExpNonPositive"/>'s 18: no ln 2 reduction, no clamp.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp2NonPositive(Vector512<float> x)
    {
        var n = Avx512F.RoundScale(x, 0x08);  // nearest, no exceptions
        var f = x - n;
        var p = Vector512.Create(Exp2Polynomial.C6);
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(Exp2Polynomial.C5));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(Exp2Polynomial.C4));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(Exp2Polynomial.C3));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(Exp2Polynomial.C2));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(Exp2Polynomial.C1));
        p = Avx512F.FusedMultiplyAdd(p, f, Vector512<float>.One);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(FlushExponent2)), Vector512<float>.Zero,
            Avx512F.Scale(p, n));
    }

    /// <summary>
    /// 2^x on 8 lanes for x &lt;= 0: <see cref="Exp2NonPositive"/>'s reduction and polynomial, 2^n through the exponent
    /// field (x clamped to -65 first, so -inf stays finite and 2^n normal); exactly 0 below <see cref="FlushExponent2"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp2NonPositive(Vector256<float> x)
    {
        var flushed = Vector256.LessThan(x, Vector256.Create(FlushExponent2));
        x = Vector256.Max(x, Vector256.Create(FlushExponent2 - 1f));
        var n = Vector256.Floor(x + Vector256.Create(0.5f));
        var f = x - n;
        var p = Vector256.Create(Exp2Polynomial.C6);
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(Exp2Polynomial.C5));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(Exp2Polynomial.C4));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(Exp2Polynomial.C3));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(Exp2Polynomial.C2));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256.Create(Exp2Polynomial.C1));
        p = Vector256.FusedMultiplyAdd(p, f, Vector256<float>.One);
        var twoToN = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.ConditionalSelect(flushed, Vector256<float>.Zero, p * twoToN);
    }

    /// <summary>
    /// 2^f on [-1/2, 1/2] by the degree-6 polynomial interpolating it at the 7 Chebyshev nodes 0.5 cos((2i + 1) pi / 14)
    /// (solved exactly, then rounded to fp32): relative error 1.9e-8 with these fp32 coefficients, a third of an fp32
    /// ulp, before the evaluation's rounding (Cephes' expf polynomial, for comparison, is within about 2 ulp).
    /// </summary>
    private static class Exp2Polynomial
    {
        public const float C1 = 0.6931471824645996f;
        public const float C2 = 0.24022650718688965f;
        public const float C3 = 0.05550327152013779f;
        public const float C4 = 0.009618056938052177f;
        public const float C5 = 0.0013400427997112274f;
        public const float C6 = 0.00015461444854736328f;
    }

    /// <summary>
    /// erf(x) by Abramowitz and Stegun 7.1.26: 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1 / (1 + p |x|),
    /// absolute error below 1.5e-7 (plus a few fp32 ulp of evaluation), sign restored from x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var z = Vector256.Abs(x);
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(z, Vector256.Create(0.3275911f), Vector256<float>.One);
        var poly = Vector256.Create(1.061405429f);
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(-1.453152027f));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(1.421413741f));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(-0.284496736f));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(0.254829592f));
        var y = Vector256<float>.One - poly * t * Exp(-(z * z));
        return Vector256.ConditionalSelect(Vector256.Create(-0f), x, Vector256<float>.Zero) | y;  // copysign(y, x)
    }

    /// <summary>
    /// erf on 16 lanes: <see cref="Erf(Vector256{float})"/>'s Abramowitz-Stegun 7.1.26 evaluation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        var z = Vector512.Abs(x);
        var t = Vector512<float>.One / Avx512F.FusedMultiplyAdd(z, Vector512.Create(0.3275911f), Vector512<float>.One);
        var poly = Vector512.Create(1.061405429f);
        poly = Avx512F.FusedMultiplyAdd(poly, t, Vector512.Create(-1.453152027f));
        poly = Avx512F.FusedMultiplyAdd(poly, t, Vector512.Create(1.421413741f));
        poly = Avx512F.FusedMultiplyAdd(poly, t, Vector512.Create(-0.284496736f));
        poly = Avx512F.FusedMultiplyAdd(poly, t, Vector512.Create(0.254829592f));
        var y = Vector512<float>.One - poly * t * ExpNonPositive(-(z * z));
        return Vector512.ConditionalSelect(Vector512.Create(-0f), x, Vector512<float>.Zero) | y;  // copysign(y, x)
    }

    /// <summary>
    /// dst[i] = hidden[i] gelu(gate[i]) for i &lt; count (GEGLU's product): 16 lanes, then 8, then scalar
    /// (<see cref="CpuBackend.Gelu(float)"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Geglu(float* hidden, float* gate, float* dst, int count)
    {
        int i = 0;
        if (Avx512F.IsSupported)
            for (; i + 16 <= count; i += 16)
                Vector512.Store(Vector512.Load(hidden + i) * Gelu(Vector512.Load(gate + i)), dst + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= count; i += 8)
                Vector256.Store(Vector256.Load(hidden + i) * Gelu(Vector256.Load(gate + i)), dst + i);
        for (; i < count; i++) dst[i] = hidden[i] * CpuBackend.Gelu(gate[i]);
    }

    /// <summary>Exact-form GELU on 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gelu(Vector512<float> x)
        => Vector512.Create(0.5f) * x * (Vector512<float>.One + Erf(x * Vector512.Create(0.70710678118654752f)));

    /// <summary>Exact-form GELU, 0.5 x (1 + erf(x / sqrt 2)), as torch.nn.functional.gelu(approximate='none').</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Gelu(Vector256<float> x)
        => Vector256.Create(0.5f) * x * (Vector256<float>.One + Erf(x * Vector256.Create(0.70710678118654752f)));
}
