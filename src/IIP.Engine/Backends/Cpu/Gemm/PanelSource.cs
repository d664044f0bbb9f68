using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// A matrix operand seen as (outer index, depth index): the rows of op(A) or the columns of op(B), each of
/// length K. Packing writes the GEMM's panel layout: outer indices [o0, o0 + count) in consecutive panels of
/// <c>width</c> (MR for A, NR for B); panel q holds depth rows k0 .. k0 + kc - 1, each <c>width</c> floats
/// (element (o0 + q width + j, k0 + p) at panel[p * width + j]); outer indices past count are zero.
/// Implementations are structs so the driver is specialised per source (strided matrix, image patches, panels
/// packed in advance).
/// </summary>
internal unsafe interface IPanelSource
{
    void Pack(int o0, int count, int k0, int kc, int width, float* dst);

    /// <summary>
    /// Panels packed in advance over the whole depth (see <see cref="PrepackedPanels"/>), or null when the driver
    /// packs this operand itself.
    /// </summary>
    float* Prepacked { get; }
}

/// <summary>
/// A strided row-major matrix: element (o, k) = data[o * ld + k] when <c>DepthContiguous</c> (A untransposed,
/// B transposed), else data[k * ld + o] (A transposed, B untransposed).
/// </summary>
internal readonly unsafe struct StridedPanels(float* data, int ld, bool depthContiguous) : IPanelSource
{
    public static StridedPanels ForA(bool transA, float* a, int lda) => new(a, lda, depthContiguous: !transA);

    public static StridedPanels ForB(bool transB, float* b, int ldb) => new(b, ldb, depthContiguous: transB);

    public float* Prepacked => null;

    public void Pack(int o0, int count, int k0, int kc, int width, float* dst)
    {
        if (!depthContiguous)
        {
            PackRows(data + (long)k0 * ld + o0, ld, count, kc, width, dst);
            return;
        }
        for (int q = 0; q * width < count; q++)
            PackTransposed(data + (long)(o0 + q * width) * ld + k0, ld, Math.Min(width, count - q * width), kc, width,
                dst + (long)q * width * kc);
    }

    // panel q [p, j] = src[p * ld + q * width + j] for q * width + j < count, 0 after. Row by row across all
    // panels, so the source is read in long contiguous runs and each panel is written sequentially.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRows(float* src, int ld, int count, int kc, int width, float* dst)
    {
        int full = count / width, rest = count - full * width;
        long panelStride = (long)width * kc;
        for (int p = 0; p < kc; p++, src += ld)
        {
            float* s = src, d = dst + (long)p * width;
            for (int q = 0; q < full; q++, s += width, d += panelStride)
                CopyRow(s, d, width);
            if (rest > 0)
            {
                int j = 0;
                for (; j < rest; j++) d[j] = s[j];
                for (; j < width; j++) d[j] = 0f;
            }
        }
    }

    // d[j] = s[j], j < width, in whole vectors of the widest size that fits, the last one overlapping its predecessor
    // when width is not a multiple of it (nothing read or written outside [0, width)); scalar below 4.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CopyRow(float* s, float* d, int width)
    {
        int j = 0;
        if (Avx512F.IsSupported && width >= 16)
        {
            for (; j + 16 <= width; j += 16) Vector512.Store(Vector512.Load(s + j), d + j);
            if (j < width) Vector512.Store(Vector512.Load(s + width - 16), d + width - 16);
        }
        else if (Vector256.IsHardwareAccelerated && width >= 8)
        {
            for (; j + 8 <= width; j += 8) Vector256.Store(Vector256.Load(s + j), d + j);
            if (j < width) Vector256.Store(Vector256.Load(s + width - 8), d + width - 8);
        }
        else if (Vector128.IsHardwareAccelerated && width >= 4)
        {
            for (; j + 4 <= width; j += 4) Vector128.Store(Vector128.Load(s + j), d + j);
            if (j < width) Vector128.Store(Vector128.Load(s + width - 4), d + width - 4);
        }
        else
        {
            for (; j < width; j++) d[j] = s[j];
        }
    }

    // panel[p, j] = src[j * ld + p] for j < cols, 0 after: 4 x 4 transposes (SSE) where 4 rows and 4 depths
    // are available, scalar elsewhere.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed(float* src, int ld, int cols, int kc, int width, float* panel)
    {
        int j = 0;
        if (Sse.IsSupported)
        {
            for (; j + 4 <= cols; j += 4)
            {
                float* r0 = src + (long)j * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld;
                int p = 0;
                for (; p + 4 <= kc; p += 4)
                {
                    Transpose4x4(Sse.LoadVector128(r0 + p), Sse.LoadVector128(r1 + p), Sse.LoadVector128(r2 + p), Sse.LoadVector128(r3 + p),
                        out var d0, out var d1, out var d2, out var d3);
                    float* o = panel + (long)p * width + j;
                    Sse.Store(o, d0);
                    Sse.Store(o + width, d1);
                    Sse.Store(o + 2 * width, d2);
                    Sse.Store(o + 3 * width, d3);
                }
                for (; p < kc; p++)
                {
                    float* o = panel + (long)p * width + j;
                    o[0] = r0[p]; o[1] = r1[p]; o[2] = r2[p]; o[3] = r3[p];
                }
            }
        }
        for (; j < cols; j++)
        {
            float* row = src + (long)j * ld;
            for (int p = 0; p < kc; p++) panel[(long)p * width + j] = row[p];
        }
        for (; j < width; j++)
            for (int p = 0; p < kc; p++) panel[(long)p * width + j] = 0f;
    }

    // Rows r0..r3 (4 depths each) -> d0..d3 (4 rows each): the classic unpack / movelh / movehl transpose.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose4x4(Vector128<float> r0, Vector128<float> r1, Vector128<float> r2, Vector128<float> r3,
        out Vector128<float> d0, out Vector128<float> d1, out Vector128<float> d2, out Vector128<float> d3)
    {
        var t0 = Sse.UnpackLow(r0, r1);   // r0[0] r1[0] r0[1] r1[1]
        var t1 = Sse.UnpackHigh(r0, r1);  // r0[2] r1[2] r0[3] r1[3]
        var t2 = Sse.UnpackLow(r2, r3);
        var t3 = Sse.UnpackHigh(r2, r3);
        d0 = Sse.MoveLowToHigh(t0, t2);   // r0[0] r1[0] r2[0] r3[0]
        d1 = Sse.MoveHighToLow(t2, t0);   // r0[1] r1[1] r2[1] r3[1]
        d2 = Sse.MoveLowToHigh(t1, t3);
        d3 = Sse.MoveHighToLow(t3, t1);
    }
}
