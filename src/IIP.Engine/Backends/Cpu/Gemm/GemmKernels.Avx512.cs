using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// AVX-512F micro-kernels: a 12 x 32 tile of C in 24 zmm accumulators (two 16-lane vectors per row).
/// Per depth step: 2 loads of packed B, 12 broadcasts of packed A, 24 FMAs (12 cycles on 2 FMA ports,
/// 7 on 2 load ports), so the FMA units stay the bottleneck. 24 accumulators + 2 B + 1 broadcast fit the 32
/// zmm registers. The half kernel (12 x 16) serves N tails of at most 16 columns. The full kernel prefetches its panels
/// ahead (<see cref="PrefetchSteps"/>).
/// Contract (both kernels): C[12, NR] = alpha * A_panel B_panel + beta * C, A_panel [kc, 12], B_panel [kc, 32]
/// (packed, k-major); C is not read when beta == 0.
/// </summary>
internal static unsafe class GemmKernelsAvx512
{
    public const int MR = 12, NR = 32;

    /// <summary>
    /// Depth steps ahead at which <see cref="Full"/> prefetches its panels into L1 (24 steps = 288 cycles, about one
    /// DRAM latency). Model weights are read in place from their prepacked panels, so the first tile to use a weight
    /// panel streams it from memory (3.4 GB per SD v1.4 UNet forward, far beyond L3) faster than the hardware
    /// prefetchers fetch it: prefetching the weight panel, B of a linear layer or A of a convolution, ran the 1280-channel
    /// 3x3 convolutions at 16x16 and 8x8 latents 12 to 18% faster and a 256 x 1280 x 1280 linear layer 11% faster
    /// (in-process A/B runs, prepacked weights cycled through more memory than L3, dev-cpu 2026-11-28); products whose
    /// panels are already cached run the same (3 more load-port uops per 12 FMA cycles). 12 and 48 steps did as well.
    /// </summary>
    private const int PrefetchSteps = 24;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Full(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default,
            c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        PrefetchTile(c, ldc);
        for (int p = 0; p < kc; p++)
        {
            // acc[r, :] += a[p, r] * b[p, :]; the B rows (2 cache lines) and A row (3/4 of one) PrefetchSteps ahead are
            // requested now (a prefetch past the end of a panel is harmless: prefetches never fault)
            Sse.Prefetch0(b + PrefetchSteps * NR);
            Sse.Prefetch0(b + PrefetchSteps * NR + 16);
            Sse.Prefetch0(a + PrefetchSteps * MR);
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var av = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71);
            av = Vector512.Create(a[8]); c80 = Avx512F.FusedMultiplyAdd(av, b0, c80); c81 = Avx512F.FusedMultiplyAdd(av, b1, c81);
            av = Vector512.Create(a[9]); c90 = Avx512F.FusedMultiplyAdd(av, b0, c90); c91 = Avx512F.FusedMultiplyAdd(av, b1, c91);
            av = Vector512.Create(a[10]); ca0 = Avx512F.FusedMultiplyAdd(av, b0, ca0); ca1 = Avx512F.FusedMultiplyAdd(av, b1, ca1);
            av = Vector512.Create(a[11]); cb0 = Avx512F.FusedMultiplyAdd(av, b0, cb0); cb1 = Avx512F.FusedMultiplyAdd(av, b1, cb1);
            a += MR;
            b += NR;
        }
        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Put(c, va, c00, c01); Put(c + ldc, va, c10, c11); Put(c + 2 * ldc, va, c20, c21);
            Put(c + 3 * ldc, va, c30, c31); Put(c + 4 * ldc, va, c40, c41); Put(c + 5 * ldc, va, c50, c51);
            Put(c + 6 * ldc, va, c60, c61); Put(c + 7 * ldc, va, c70, c71); Put(c + 8 * ldc, va, c80, c81);
            Put(c + 9 * ldc, va, c90, c91); Put(c + 10 * ldc, va, ca0, ca1); Put(c + 11 * ldc, va, cb0, cb1);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Update(c, va, vb, c00, c01); Update(c + ldc, va, vb, c10, c11); Update(c + 2 * ldc, va, vb, c20, c21);
            Update(c + 3 * ldc, va, vb, c30, c31); Update(c + 4 * ldc, va, vb, c40, c41); Update(c + 5 * ldc, va, vb, c50, c51);
            Update(c + 6 * ldc, va, vb, c60, c61); Update(c + 7 * ldc, va, vb, c70, c71); Update(c + 8 * ldc, va, vb, c80, c81);
            Update(c + 9 * ldc, va, vb, c90, c91); Update(c + 10 * ldc, va, vb, ca0, ca1); Update(c + 11 * ldc, va, vb, cb0, cb1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Half(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default,
            c6 = default, c7 = default, c8 = default, c9 = default, ca = default, cb = default;
        for (int p = 0; p < kc; p++)
        {
            // acc[r, :16] += a[p, r] * b[p, :16]; the packed B row is still NR wide
            var b0 = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b0, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b0, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b0, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b0, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b0, c7);
            c8 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[8]), b0, c8);
            c9 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[9]), b0, c9);
            ca = Avx512F.FusedMultiplyAdd(Vector512.Create(a[10]), b0, ca);
            cb = Avx512F.FusedMultiplyAdd(Vector512.Create(a[11]), b0, cb);
            a += MR;
            b += NR;
        }
        var va = Vector512.Create(alpha);
        var vb = Vector512.Create(beta);
        bool read = beta != 0f;
        Put1(c, va, vb, read, c0); Put1(c + ldc, va, vb, read, c1); Put1(c + 2 * ldc, va, vb, read, c2);
        Put1(c + 3 * ldc, va, vb, read, c3); Put1(c + 4 * ldc, va, vb, read, c4); Put1(c + 5 * ldc, va, vb, read, c5);
        Put1(c + 6 * ldc, va, vb, read, c6); Put1(c + 7 * ldc, va, vb, read, c7); Put1(c + 8 * ldc, va, vb, read, c8);
        Put1(c + 9 * ldc, va, vb, read, c9); Put1(c + 10 * ldc, va, vb, read, ca); Put1(c + 11 * ldc, va, vb, read, cb);
    }

    /// <summary>
    /// The 8 x 32 kernel for the attention's value panels: SD's head sizes (40, 80, 160) are multiples of 8, not of 12,
    /// so 12-row panels would compute 48 rows for 40 (a sixth of P V wasted). 16 accumulators; per depth step 2 B
    /// loads, 8 broadcasts, 16 FMAs (8 cycles on 2 FMA ports against 5 on the load ports). Contract as Full with
    /// A_panel [kc, 8].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows8(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            // acc[r, :] += a[p, r] * b[p, :]
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var av = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71);
            a += 8;
            b += NR;
        }
        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Put(c, va, c00, c01); Put(c + ldc, va, c10, c11); Put(c + 2 * ldc, va, c20, c21); Put(c + 3 * ldc, va, c30, c31);
            Put(c + 4 * ldc, va, c40, c41); Put(c + 5 * ldc, va, c50, c51); Put(c + 6 * ldc, va, c60, c61); Put(c + 7 * ldc, va, c70, c71);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Update(c, va, vb, c00, c01); Update(c + ldc, va, vb, c10, c11); Update(c + 2 * ldc, va, vb, c20, c21); Update(c + 3 * ldc, va, vb, c30, c31);
            Update(c + 4 * ldc, va, vb, c40, c41); Update(c + 5 * ldc, va, vb, c50, c51); Update(c + 6 * ldc, va, vb, c60, c61); Update(c + 7 * ldc, va, vb, c70, c71);
        }
    }

    /// <summary>
    /// Starts loading the C tile (12 rows x 128 bytes, up to 3 cache lines each when unaligned) into L1, so the
    /// epilogue does not wait on L3 or memory: the depth loop that follows (kc x 12 cycles) hides the latency.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile(float* c, int ldc)
    {
        for (int r = 0; r < MR; r++, c += ldc)
        {
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + 16);
            Sse.Prefetch0(c + 31);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* row, Vector512<float> alpha, Vector512<float> x0, Vector512<float> x1)
    {
        Vector512.Store(alpha * x0, row);
        Vector512.Store(alpha * x1, row + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* row, Vector512<float> alpha, Vector512<float> beta, Vector512<float> x0, Vector512<float> x1)
    {
        Vector512.Store(Avx512F.FusedMultiplyAdd(alpha, x0, beta * Vector512.Load(row)), row);
        Vector512.Store(Avx512F.FusedMultiplyAdd(alpha, x1, beta * Vector512.Load(row + 16)), row + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put1(float* row, Vector512<float> alpha, Vector512<float> beta, bool read, Vector512<float> x)
    {
        var y = alpha * x;
        if (read) y = Avx512F.FusedMultiplyAdd(beta, Vector512.Load(row), y);
        Vector512.Store(y, row);
    }
}
