using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// The im2col matrix of <see cref="Im2ColPanels"/> for stride 1, read from images already zero-padded
/// (xp [N, C, Ho + KH - 1, Wo + KW - 1]: no bounds to check) when a B panel holds whole output rows (NR a multiple of
/// Wo: the small images of the UNet's deep levels and of the test models). Element (n Ho Wo + oy Wo + ox,
/// (c KH + ky) KW + kx) = xp[n, c, oy + ky, ox + kx]. Each depth row of a panel is then NR / Wo copies of Wo floats,
/// one per output row, from source rows found once per panel; the general packer walks each output row's run
/// separately and finds its bounds per run, which for runs of 8 pixels cost several times the copying.
/// </summary>
internal readonly unsafe struct PaddedIm2ColPanels(float* xp, int c, int ho, int wo, int kh, int kw) : IPanelSource
{
    private int PaddedHeight => ho + kh - 1;

    private int PaddedWidth => wo + kw - 1;

    public float* Prepacked => null;

    /// <summary>Whether panels of <paramref name="width"/> outer indices hold whole output rows of width <paramref name="wo"/>.</summary>
    public static bool Fits(int width, int wo) => width % wo == 0;

    /// <summary>xp[n, ch, top + i, left + j] = x[n, ch, i, j], zero elsewhere: the padded copy this source reads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pad(float* x, int n, int c, int h, int w, Padding2d pad, float* xp)
    {
        int hp = h + pad.Top + pad.Bottom, wp = w + pad.Left + pad.Right;
        // Element by element at the borders: the rows are short (this source serves images up to NR / 2 wide), and
        // span calls per border cost more than the copy.
        for (long plane = 0; plane < (long)n * c; plane++)
        {
            float* src = x + plane * h * w, dst = xp + plane * hp * wp;
            for (int t = 0; t < pad.Top * wp; t++) dst[t] = 0f;
            for (int i = 0; i < h; i++, src += w)
            {
                float* row = dst + (long)(pad.Top + i) * wp;
                for (int t = 0; t < pad.Left; t++) row[t] = 0f;
                StridedPanels.CopyRow(src, row + pad.Left, w);
                for (int t = pad.Left + w; t < wp; t++) row[t] = 0f;
            }
            for (long t = (long)(pad.Top + h) * wp; t < (long)hp * wp; t++) dst[t] = 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int o0, int count, int k0, int kc, int width, float* dst)
    {
        if (width % wo != 0 || o0 % wo != 0)
            throw new InvalidOperationException($"panels of {width} from {o0} do not hold whole output rows of {wo}");
        int hp = PaddedHeight, wp = PaddedWidth, plane = hp * wp, rowsPerPanel = width / wo;
        float** rowStart = stackalloc float*[rowsPerPanel];
        for (int q = 0; q * width < count; q++)
        {
            int cols = Math.Min(width, count - q * width), runs = cols / wo;
            float* panel = dst + (long)q * width * kc;
            // The top-left source element of each output row's window: image n, padded row oy.
            for (int r = 0; r < runs; r++)
            {
                int row = (o0 + q * width) / wo + r, image = row / ho, oy = row % ho;
                rowStart[r] = xp + ((long)image * c * hp + oy) * wp;
            }
            int ky = k0 / kw % kh, kx = k0 % kw;
            long offset = (long)(k0 / (kh * kw)) * plane + (long)ky * wp + kx;   // of element (ch, ky, kx) from a window's corner
            for (int p = 0; p < kc; p++)
            {
                float* d = panel + (long)p * width;
                if (wo == 8 && Vector256.IsHardwareAccelerated)   // the 8x8 latents: one vector per output row
                    for (int r = 0; r < runs; r++, d += 8) Vector256.Store(Vector256.Load(rowStart[r] + offset), d);
                else
                    for (int r = 0; r < runs; r++, d += wo) StridedPanels.CopyRow(rowStart[r] + offset, d, wo);
                if (cols < width) new Span<float>(panel + (long)p * width + cols, width - cols).Clear();
                if (++kx < kw)
                {
                    offset++;
                }
                else
                {
                    kx = 0;
                    offset += wp - kw + 1;                                 // next kernel row
                    if (++ky == kh) { ky = 0; offset += plane - (long)kh * wp; }   // next channel
                }
            }
        }
    }
}
