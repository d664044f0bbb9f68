using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

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
        for (int i = 0; i < n; i++)
        {
            Array.Copy(a.Data, i * sa, y.Data, i * (sa + sb), sa);
            Array.Copy(b.Data, i * sb, y.Data, i * (sa + sb) + sa, sb);
        }
    }

    public void UpsampleNearest2x(Tensor x, Tensor y)
    {
        // x [N, C, H, W] -> y [N, C, 2H, 2W], y[.., i, j] = x[.., i / 2, j / 2]
        Require(nameof(UpsampleNearest2x), x.Rank == 4 && y.Rank == 4, x, y);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        Require(nameof(UpsampleNearest2x), y.Shape[0] == n && y.Shape[1] == c && y.Shape[2] == 2 * h && y.Shape[3] == 2 * w, x, y);
        var xd = x.Data; var yd = y.Data;
        ForChunks(n * c, 4 * h * w, nc =>
        {
            fixed (float* px = xd, py = yd)
            {
                for (int i = 0; i < h; i++)
                {
                    float* src = px + ((long)nc * h + i) * w;
                    float* dst = py + ((long)nc * 2 * h + 2 * i) * 2 * w;
                    for (int j = 0; j < w; j++) dst[2 * j] = dst[2 * j + 1] = src[j];
                    new ReadOnlySpan<float>(dst, 2 * w).CopyTo(new Span<float>(dst + 2 * w, 2 * w));  // row 2i + 1 = row 2i
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

    // src [n, rows, cols] -> dst [n, cols, rows], in 32 x 32 tiles so both sides stay in cache lines.
    private static void Transpose(float[] src, float[] dst, int n, int rows, int cols)
    {
        const int Tile = 32;
        int tilesR = (rows + Tile - 1) / Tile;
        ForChunks(n * tilesR, Tile * cols, job =>
        {
            int b = job / tilesR, r0 = job % tilesR * Tile, r1 = Math.Min(rows, r0 + Tile);
            long bs = (long)b * rows * cols;
            for (int c0 = 0; c0 < cols; c0 += Tile)
            {
                int c1 = Math.Min(cols, c0 + Tile);
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                        dst[bs + (long)c * rows + r] = src[bs + (long)r * cols + c];
            }
        });
    }
}
