using System.Runtime.Intrinsics;

namespace IIP.Runtime.Backends.Cpu;

/// <summary>
/// Softmax down the columns of a [rows, width] block (attention scores stored key-major, one column per query):
/// s[t, j] = exp(s[t, j] - max_t s[t, j]) in place and sum[j] = sum_t of those; the caller divides by sum later.
/// -inf entries (masked keys) become exactly 0.
/// </summary>
internal static unsafe class ColumnSoftmax
{
    public static void Apply(float* s, int rows, int width, float* sum)
    {
        if (Vector256.IsHardwareAccelerated && width % 8 == 0 && width <= 64)
            ApplyVector(s, rows, width, sum);
        else
            ApplyScalar(s, rows, width, sum);
    }

    private static void ApplyVector(float* s, int rows, int width, float* sum)
    {
        int vectors = width / 8;
        var max = stackalloc Vector256<float>[vectors];
        var total = stackalloc Vector256<float>[vectors];
        for (int v = 0; v < vectors; v++) { max[v] = Vector256.Create(float.NegativeInfinity); total[v] = Vector256<float>.Zero; }
        float* row = s;
        for (int t = 0; t < rows; t++, row += width)
            for (int v = 0; v < vectors; v++) max[v] = Vector256.Max(max[v], Vector256.Load(row + 8 * v));
        row = s;
        for (int t = 0; t < rows; t++, row += width)
            for (int v = 0; v < vectors; v++)
            {
                var e = VectorMath.Exp(Vector256.Load(row + 8 * v) - max[v]);
                Vector256.Store(e, row + 8 * v);
                total[v] += e;
            }
        for (int v = 0; v < vectors; v++) Vector256.Store(total[v], sum + 8 * v);
    }

    private static void ApplyScalar(float* s, int rows, int width, float* sum)
    {
        for (int j = 0; j < width; j++)
        {
            float max = float.NegativeInfinity;
            for (int t = 0; t < rows; t++) max = MathF.Max(max, s[(long)t * width + j]);
            float total = 0f;
            for (int t = 0; t < rows; t++)
            {
                float* e = s + (long)t * width + j;
                *e = MathF.Exp(*e - max);
                total += *e;
            }
            sum[j] = total;
        }
    }
}
