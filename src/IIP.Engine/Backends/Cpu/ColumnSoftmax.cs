using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IIP.Engine.Backends.Cpu;

/// <summary>
/// Softmax pieces down the columns of a [rows, width] block of attention scores stored key-major (one column per
/// query), for the online softmax of <see cref="CpuBackend.Attention"/> (Milakov and Gimelshein 2018): a block
/// raises the running column maxima, then its scores become 2^(s - max) with their column sums. The scores are in
/// base 2 (the attention scales q k^T by log2(e) / sqrt(d), so 2^s is the softmax's e^(q k^T / sqrt(d))): 2^x costs
/// fewer operations than e^x (<see cref="VectorMath.Exp2NonPositive(System.Runtime.Intrinsics.Vector512{float})"/>).
/// Terms below 2^-64 of their column's maximum, -inf entries (masked keys) among them, become exactly 0
/// (<see cref="VectorMath.FlushExponent2"/>: no sub-normal numbers for the products that follow).
/// </summary>
internal static unsafe class ColumnSoftmax
{
    /// <summary>max[j] = max(max[j], max_t s[t, j]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RaiseMax(float* s, int rows, int width, float* max)
    {
        if (width == 32 && Avx512F.IsSupported)
        {
            var max0 = Vector512.Load(max);
            var max1 = Vector512.Load(max + 16);
            for (int t = 0; t < rows; t++, s += 32)
            {
                max0 = Avx512F.Max(max0, Vector512.Load(s));
                max1 = Avx512F.Max(max1, Vector512.Load(s + 16));
            }
            Vector512.Store(max0, max);
            Vector512.Store(max1, max + 16);
            return;
        }
        for (int t = 0; t < rows; t++, s += width)
            for (int j = 0; j < width; j++) max[j] = MathF.Max(max[j], s[j]);
    }

    /// <summary>
    /// s[t, j] = 2^(s[t, j] - max[j]) in place (0 where s - max &lt; <see cref="VectorMath.FlushExponent2"/>); sum[j] =
    /// sum_t of those.
    /// </summary>
    public static void Exp2AndSum(float* s, int rows, int width, float* max, float* sum)
    {
        if (width == 32 && Avx512F.IsSupported)
            Exp2AndSum32(s, rows, max, sum);
        else if (Vector256.IsHardwareAccelerated && width % 8 == 0)
            Exp2AndSumVector(s, rows, width, max, sum);
        else
            Exp2AndSumScalar(s, rows, width, max, sum);
    }

    // Width 32 (the AVX-512 GEMM's NR): two 16-lane vectors per row, maxima and sums kept in registers.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Exp2AndSum32(float* s, int rows, float* max, float* sum)
    {
        var max0 = Vector512.Load(max);
        var max1 = Vector512.Load(max + 16);
        Vector512<float> total0 = default, total1 = default;
        for (int t = 0; t < rows; t++, s += 32)
        {
            var e0 = VectorMath.Exp2NonPositive(Vector512.Load(s) - max0);
            var e1 = VectorMath.Exp2NonPositive(Vector512.Load(s + 16) - max1);
            Vector512.Store(e0, s);
            Vector512.Store(e1, s + 16);
            total0 += e0;
            total1 += e1;
        }
        Vector512.Store(total0, sum);
        Vector512.Store(total1, sum + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Exp2AndSumVector(float* s, int rows, int width, float* max, float* sum)
    {
        for (int j = 0; j < width; j += 8)
        {
            var m = Vector256.Load(max + j);
            var total = Vector256<float>.Zero;
            float* p = s + j;
            for (int t = 0; t < rows; t++, p += width)
            {
                var e = VectorMath.Exp2NonPositive(Vector256.Load(p) - m);
                Vector256.Store(e, p);
                total += e;
            }
            Vector256.Store(total, sum + j);
        }
    }

    private static void Exp2AndSumScalar(float* s, int rows, int width, float* max, float* sum)
    {
        for (int j = 0; j < width; j++)
        {
            float total = 0f;
            for (int t = 0; t < rows; t++)
            {
                float* e = s + (long)t * width + j;
                float x = *e - max[j];
                *e = x < VectorMath.FlushExponent2 ? 0f : float.Exp2(x);
                total += *e;
            }
            sum[j] = total;
        }
    }

    /// <summary>
    /// block[t, j] *= factor[j] over a [rows, width] block: the online softmax's rescaling of what earlier key chunks
    /// accumulated (Y^T, one column per query) to new column maxima. Vectorised, it took the self-attention at 64x64
    /// latents 4 to 7% less time than the scalar loop (in-process A/B, dev-cpu 2026-11-28).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScaleColumns(float* block, int rows, int width, float* factor)
    {
        if (width == 32 && Avx512F.IsSupported)
        {
            var f0 = Vector512.Load(factor);
            var f1 = Vector512.Load(factor + 16);
            for (int t = 0; t < rows; t++, block += 32)
            {
                Vector512.Store(Vector512.Load(block) * f0, block);
                Vector512.Store(Vector512.Load(block + 16) * f1, block + 16);
            }
            return;
        }
        for (int t = 0; t < rows; t++, block += width)
        {
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= width; j += 8) Vector256.Store(Vector256.Load(block + j) * Vector256.Load(factor + j), block + j);
            for (; j < width; j++) block[j] *= factor[j];
        }
    }
}
