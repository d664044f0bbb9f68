using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// AVX2 + FMA3 micro-kernels: a 6 x 16 tile of C in 12 ymm accumulators (two 8-lane vectors per row).
/// Per depth step: 2 loads of packed B, 6 broadcasts of packed A, 12 FMAs (6 cycles on 2 FMA ports);
/// 12 accumulators + 2 B + 1 broadcast = 15 of the 16 ymm registers. The half kernel (6 x 8) serves N tails
/// of at most 8 columns. Contract as <see cref="GemmKernelsAvx512"/> with MR = 6, NR = 16.
/// </summary>
internal static unsafe class GemmKernelsAvx2
{
    public const int MR = 6, NR = 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Full(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            // acc[r, :] += a[p, r] * b[p, :]
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var av = Vector256.Create(a[0]); c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]); c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]); c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]); c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]); c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]); c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            a += MR;
            b += NR;
        }
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        bool read = beta != 0f;
        Put(c, va, vb, read, c00, c01); Put(c + ldc, va, vb, read, c10, c11); Put(c + 2 * ldc, va, vb, read, c20, c21);
        Put(c + 3 * ldc, va, vb, read, c30, c31); Put(c + 4 * ldc, va, vb, read, c40, c41); Put(c + 5 * ldc, va, vb, read, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Half(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        for (int p = 0; p < kc; p++)
        {
            // acc[r, :8] += a[p, r] * b[p, :8]; the packed B row is still NR wide
            var b0 = Vector256.Load(b);
            c0 = Fma.MultiplyAdd(Vector256.Create(a[0]), b0, c0);
            c1 = Fma.MultiplyAdd(Vector256.Create(a[1]), b0, c1);
            c2 = Fma.MultiplyAdd(Vector256.Create(a[2]), b0, c2);
            c3 = Fma.MultiplyAdd(Vector256.Create(a[3]), b0, c3);
            c4 = Fma.MultiplyAdd(Vector256.Create(a[4]), b0, c4);
            c5 = Fma.MultiplyAdd(Vector256.Create(a[5]), b0, c5);
            a += MR;
            b += NR;
        }
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        bool read = beta != 0f;
        Put1(c, va, vb, read, c0); Put1(c + ldc, va, vb, read, c1); Put1(c + 2 * ldc, va, vb, read, c2);
        Put1(c + 3 * ldc, va, vb, read, c3); Put1(c + 4 * ldc, va, vb, read, c4); Put1(c + 5 * ldc, va, vb, read, c5);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* row, Vector256<float> alpha, Vector256<float> beta, bool read, Vector256<float> x0, Vector256<float> x1)
    {
        Put1(row, alpha, beta, read, x0);
        Put1(row + 8, alpha, beta, read, x1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put1(float* row, Vector256<float> alpha, Vector256<float> beta, bool read, Vector256<float> x)
    {
        var y = alpha * x;
        if (read) y = Fma.MultiplyAdd(beta, Vector256.Load(row), y);
        Vector256.Store(y, row);
    }
}
