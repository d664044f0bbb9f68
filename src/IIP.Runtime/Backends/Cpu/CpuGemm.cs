namespace IIP.Runtime.Backends.Cpu;

/// <summary>
/// Single-precision GEMM on row-major matrices: C = alpha * op(A) op(B) + beta * C,
/// op(A) [M, K], op(B) [K, N], C [M, N]; lda/ldb/ldc are row strides in elements.
/// </summary>
public static unsafe class CpuGemm
{
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (m == 0 || n == 0) return;
        // Reference path: parallel over rows of C; inner loop is an axpy over a row of op(B).
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        Parallel.For(0, m, i =>
        {
            float* A = (float*)pa, B = (float*)pb, C = (float*)pc;
            float* crow = C + (long)i * ldc;
            var acc = new float[n];
            for (int p = 0; p < k; p++)
            {
                float av = transA ? A[(long)p * lda + i] : A[(long)i * lda + p];
                if (av == 0f) continue;
                if (!transB)
                {
                    float* brow = B + (long)p * ldb;
                    for (int j = 0; j < n; j++) acc[j] += av * brow[j];
                }
                else
                {
                    for (int j = 0; j < n; j++) acc[j] += av * B[(long)j * ldb + p];
                }
            }
            for (int j = 0; j < n; j++)
                crow[j] = alpha * acc[j] + (beta == 0f ? 0f : beta * crow[j]);
        });
    }
}
