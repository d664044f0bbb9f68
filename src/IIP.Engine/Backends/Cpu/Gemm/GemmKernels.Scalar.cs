namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// Portable micro-kernels for CPUs without AVX2/FMA: a 4 x 8 tile with the same packed-panel contract as
/// <see cref="GemmKernelsAvx512"/>; the JIT may auto-widen nothing here, so this path is correct, not fast.
/// </summary>
internal static unsafe class GemmKernelsScalar
{
    public const int MR = 4, NR = 8;

    public static void Full(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
        => Tile(kc, a, b, c, ldc, alpha, beta, NR);

    public static void Half(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta)
        => Tile(kc, a, b, c, ldc, alpha, beta, NR / 2);

    private static void Tile(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta, int cols)
    {
        float* acc = stackalloc float[MR * NR];
        new Span<float>(acc, MR * NR).Clear();
        for (int p = 0; p < kc; p++)
        {
            // acc[r, j] += a[p, r] * b[p, j]
            for (int r = 0; r < MR; r++)
            {
                float av = a[r];
                for (int j = 0; j < cols; j++) acc[r * NR + j] += av * b[j];
            }
            a += MR;
            b += NR;
        }
        for (int r = 0; r < MR; r++)
            for (int j = 0; j < cols; j++)
            {
                float* dst = c + (long)r * ldc + j;
                *dst = beta == 0f ? alpha * acc[r * NR + j] : alpha * acc[r * NR + j] + beta * *dst;
            }
    }
}
