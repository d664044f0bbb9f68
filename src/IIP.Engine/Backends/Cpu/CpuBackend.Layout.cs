using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void ConcatChannels(Tensor a, Tensor b, Tensor y)
    {
        // a [N, Ca, H, W], b [N, Cb, H, W] -> y [N, Ca + Cb, H, W]
        Require(nameof(ConcatChannels), a.Rank == 4 && b.Rank == 4 && y.Rank == 4, a, b, y);
        int n = a.Shape[0];
        Require(nameof(ConcatChannels), b.Shape[0] == n && y.Shape[0] == n && y.Shape[1] == a.Shape[1] + b.Shape[1]
            && a.Shape[2] == b.Shape[2] && a.Shape[3] == b.Shape[3] && y.Shape[2] == a.Shape[2] && y.Shape[3] == a.Shape[3], a, b, y);
        long sa = a.Length / Math.Max(1, n), sb = b.Length / Math.Max(1, n);
        var ad = a.Data; var bd = b.Data; var yd = y.Data;
        // Item 2i copies a's part of image i, item 2i + 1 b's part (both cores copy at once).
        ForChunks(2 * n, (int)Math.Min(int.MaxValue, Math.Max(sa, sb)), item =>
        {
            int i = item / 2;
            if (item % 2 == 0) Array.Copy(ad, i * sa, yd, i * (sa + sb), sa);
            else Array.Copy(bd, i * sb, yd, i * (sa + sb) + sa, sb);
        });
    }

    public void UpsampleNearest2x(Tensor x, Tensor y)
    {
        // x [N, C, H, W] -> y [N, C, Ho, Wo], Ho in {2H - 1, 2H}, Wo in {2W - 1, 2W}: y[.., i, j] = x[.., i / 2, j / 2]
        Require(nameof(UpsampleNearest2x), x.Rank == 4 && y.Rank == 4, x, y);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3], ho = y.Shape[2], wo = y.Shape[3];
        Require(nameof(UpsampleNearest2x), y.Shape[0] == n && y.Shape[1] == c && (ho == 2 * h || ho == 2 * h - 1) && (wo == 2 * w || wo == 2 * w - 1), x, y);
        var xd = x.Data; var yd = y.Data;
        ForChunks(n * c, ho * wo, nc =>
        {
            fixed (float* px = xd, py = yd)
            {
                for (int i = 0; i < ho; i++)
                {
                    float* src = px + ((long)nc * h + i / 2) * w;
                    float* dst = py + ((long)nc * ho + i) * wo;
                    if ((i & 1) == 1)
                    {
                        new ReadOnlySpan<float>(dst - wo, wo).CopyTo(new Span<float>(dst, wo));  // row 2k + 1 = row 2k
                        continue;
                    }
                    for (int j = 0; j < wo; j++) dst[j] = src[j >> 1];
                }
            }
        });
    }

    public void ChannelsToTokens(Tensor x, Tensor y)
    {
        // x [N, C, H, W] -> y [N, H W, C]
        Require(nameof(ChannelsToTokens), x.Rank == 4 && y.Rank == 3, x, y);
        int n = x.Shape[0], c = x.Shape[1], hw = x.Shape[2] * x.Shape[3];
        Require(nameof(ChannelsToTokens), y.Shape[0] == n && y.Shape[1] == hw && y.Shape[2] == c, x, y);
        Transpose(x.Data, y.Data, n, c, hw);
    }

    public void TokensToChannels(Tensor x, Tensor y)
    {
        // x [N, H W, C] -> y [N, C, H, W]
        Require(nameof(TokensToChannels), x.Rank == 3 && y.Rank == 4, x, y);
        int n = x.Shape[0], hw = x.Shape[1], c = x.Shape[2];
        Require(nameof(TokensToChannels), y.Shape[0] == n && y.Shape[1] == c && (long)y.Shape[2] * y.Shape[3] == hw, x, y);
        Transpose(x.Data, y.Data, n, hw, c);
    }

    // src [n, rows, cols] -> dst [n, cols, rows], in 32 x 32 tiles so both sides stay in cache lines; inside a tile
    // 8 x 8 blocks go through AVX registers, the edges one element at a time.
    private static void Transpose(float[] src, float[] dst, int n, int rows, int cols)
    {
        const int Tile = 32;
        int tilesR = (rows + Tile - 1) / Tile;
        ForChunks(n * tilesR, Tile * cols, job =>
        {
            int b = job / tilesR, r0 = job % tilesR * Tile, r1 = Math.Min(rows, r0 + Tile);
            long bs = (long)b * rows * cols;
            fixed (float* ps = src, pd = dst)
            {
                float* s = ps + bs, d = pd + bs;
                for (int c0 = 0; c0 < cols; c0 += Tile)
                {
                    int c1 = Math.Min(cols, c0 + Tile);
                    int r = r0;
                    if (Avx.IsSupported)
                        for (; r + 8 <= r1; r += 8)
                        {
                            int c = c0;
                            for (; c + 8 <= c1; c += 8) Transpose8x8(s + (long)r * cols + c, cols, d + (long)c * rows + r, rows);
                            for (; c < c1; c++)
                                for (int rr = r; rr < r + 8; rr++) d[(long)c * rows + rr] = s[(long)rr * cols + c];
                        }
                    for (; r < r1; r++)
                        for (int c = c0; c < c1; c++) d[(long)c * rows + r] = s[(long)r * cols + c];
                }
            }
        });
    }

    // dst[j * dstLd + i] = src[i * srcLd + j] for i, j < 8: the unpack / shuffle / 128-bit permute transpose.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, int srcLd, float* dst, int dstLd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + srcLd);
        var r2 = Avx.LoadVector256(src + 2 * srcLd); var r3 = Avx.LoadVector256(src + 3 * srcLd);
        var r4 = Avx.LoadVector256(src + 4 * srcLd); var r5 = Avx.LoadVector256(src + 5 * srcLd);
        var r6 = Avx.LoadVector256(src + 6 * srcLd); var r7 = Avx.LoadVector256(src + 7 * srcLd);
        // pairs of rows interleaved per 128-bit lane
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        // columns of four rows per 128-bit lane
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        // rows 0-3 from the low lanes with rows 4-7 from the same lanes
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstLd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstLd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstLd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstLd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstLd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstLd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstLd, Avx.Permute2x128(u3, u7, 0x31));
    }
}
