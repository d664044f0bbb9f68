using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.TestSupport.References;

/// <summary>Feature maps [N, C, H, W] in double precision.</summary>
internal sealed record Maps(double[] V, int N, int C, int H, int W)
{
    public static Maps From(Tensor t) => new(t.Data.Select(v => (double)v).ToArray(), t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]);

    public int[] Shape => [N, C, H, W];
}

/// <summary>Token sequences [B, T, C] in double precision.</summary>
internal sealed record Tokens(double[] V, int B, int T, int C)
{
    public static Tokens From(Tensor t) => new(t.Data.Select(v => (double)v).ToArray(), t.Shape[0], t.Shape[1], t.Shape[2]);

    public int[] Shape => [B, T, C];
}

/// <summary>
/// The weights of one module in double, by diffusers name under a prefix. Written apart from the engine's
/// ModuleWeights so the references share no code with what they check.
/// </summary>
internal sealed class RefWeights(IWeightSource source, string prefix = "")
{
    public double[] this[string name] => source.Load(prefix + name).Data.Select(v => (double)v).ToArray();

    public int[] Shape(string name) => source.Info(prefix + name).Shape;

    public bool Has(string name) => source.Names.Contains(prefix + name);

    public bool HasModule(string name) => source.Names.Any(n => n.StartsWith(prefix + name + ".", StringComparison.Ordinal));

    public RefWeights Sub(string name) => new(source, prefix + name + ".");
}

/// <summary>
/// Double-precision SD v1 modules written from their definitions (diffusers 0.25 / transformers source,
/// PyTorch op semantics), composed from the plain-loop ops of <see cref="DoubleReference"/>.
/// </summary>
internal static class ReferenceLayers
{
    // torch.nn.Linear: y = x W^T + b. x [R, In], weight [Out, In], bias [Out] (optional) -> [R, Out]
    public static double[] Linear(double[] x, int rows, RefWeights w)
    {
        var shape = w.Shape("weight");
        int output = shape[0], input = shape[1];
        var y = DoubleReference.Linear(x, w["weight"], rows, input, output);
        if (w.Has("bias"))
        {
            var b = w["bias"];
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < output; o++) y[r * output + o] += b[o];
        }
        return y;
    }

    public static Tokens Linear(Tokens x, RefWeights w) => new(Linear(x.V, x.B * x.T, w), x.B, x.T, w.Shape("weight")[0]);

    // torch.nn.Conv2d with bias, zero padding per side. x [N, C, H, W], weight [O, C, K, K] -> [N, O, Ho, Wo]
    public static Maps Conv(Maps x, RefWeights w, int stride, int top, int left, int bottom, int right)
    {
        var shape = w.Shape("weight");
        int o = shape[0], k = shape[2];
        int ho = (x.H + top + bottom - k) / stride + 1, wo = (x.W + left + right - shape[3]) / stride + 1;
        var y = Conv2d(x.V, w["weight"], x.N, x.C, x.H, x.W, o, k, shape[3], stride, top, left, ho, wo);
        var b = w["bias"];
        int plane = ho * wo;
        for (int i = 0; i < y.Length; i++) y[i] += b[i / plane % o];
        return new Maps(y, x.N, o, ho, wo);
    }

    /// <summary>
    /// y[n, o, oy, ox] = sum_{c, ky, kx} x[n, c, oy s - top + ky, ox s - left + kx] w[o, c, ky, kx], zero outside x:
    /// <see cref="DoubleReference.Conv2d"/>'s definition with the loops ordered so the innermost runs along a row
    /// (the whole-model references call it hundreds of times). x [N, C, H, W], w [O, C, KH, KW] -> y [N, O, Ho, Wo].
    /// </summary>
    private static double[] Conv2d(double[] x, double[] w, int n, int c, int h, int wd, int o, int kh, int kw, int stride, int top, int left, int ho, int wo)
    {
        var y = new double[n * o * ho * wo];
        for (int b = 0; b < n; b++)
            for (int oc = 0; oc < o; oc++)
            {
                int yBase = (b * o + oc) * ho * wo;
                for (int ci = 0; ci < c; ci++)
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++)
                        {
                            double weight = w[((oc * c + ci) * kh + ky) * kw + kx];
                            for (int oy = 0; oy < ho; oy++)
                            {
                                int iy = oy * stride - top + ky;
                                if (iy < 0 || iy >= h) continue;
                                int xRow = ((b * c + ci) * h + iy) * wd, yRow = yBase + oy * wo;
                                for (int ox = 0; ox < wo; ox++)
                                {
                                    int ix = ox * stride - left + kx;
                                    if (ix >= 0 && ix < wd) y[yRow + ox] += x[xRow + ix] * weight;
                                }
                            }
                        }
            }
        return y;
    }

    // stride 1, padding kernel / 2 on every side (3x3 -> 1, 1x1 -> 0)
    public static Maps Conv(Maps x, RefWeights w)
    {
        int p = w.Shape("weight")[2] / 2;
        return Conv(x, w, 1, p, p, p, p);
    }

    // torch.nn.GroupNorm (biased variance) then optional SiLU. x [N, C, H, W] -> same
    public static Maps GroupNorm(Maps x, RefWeights w, int groups, double eps, bool silu) =>
        x with { V = DoubleReference.GroupNorm(x.V, w["weight"], w["bias"], x.N, x.C, x.H * x.W, groups, eps, silu) };

    // torch.nn.LayerNorm over C. x [B, T, C] -> same
    public static Tokens LayerNorm(Tokens x, RefWeights w, double eps) => x with { V = DoubleReference.LayerNorm(x.V, w["weight"], w["bias"], x.C, eps) };

    public static Tokens Add(Tokens a, Tokens b) => a with { V = a.V.Zip(b.V, (p, q) => p + q).ToArray() };

    public static Maps Add(Maps a, Maps b) => a with { V = a.V.Zip(b.V, (p, q) => p + q).ToArray() };

    public static double[] Silu(double[] x) => x.Select(DoubleReference.Silu).ToArray();

    /// <summary>
    /// diffusers Attention (no group norm here): q = to_q(x), k = to_k(ctx), v = to_v(ctx) (ctx = x for self-attention),
    /// per head h (channels [h d, (h + 1) d), d = inner / heads) softmax(q_h k_h^T / sqrt d) v_h, then to_out.0.
    /// x [B, T, C], ctx [B, S, Cctx] -> [B, T, C]
    /// </summary>
    public static Tokens Attention(Tokens x, Tokens? context, RefWeights w, int heads, bool causal = false)
    {
        var kv = context ?? x;
        var q = Linear(x, w.Sub("to_q"));
        var k = Linear(kv, w.Sub("to_k"));
        var v = Linear(kv, w.Sub("to_v"));
        var o = DoubleReference.Attention(q.V, k.V, v.V, x.B, x.T, kv.T, q.C, v.C, heads, causal);
        return Linear(new Tokens(o, x.B, x.T, v.C), w.Sub("to_out.0"));
    }

    /// <summary>
    /// diffusers ResnetBlock2D (output_scale_factor 1): h = conv1(silu(norm1(x))) + time_emb_proj(silu(temb))[:, :, None, None];
    /// h = conv2(silu(norm2(h))); out = (conv_shortcut(x) or x) + h. x [N, Cin, H, W], siluTemb [N, T] or null -> [N, Cout, H, W]
    /// </summary>
    public static Maps Resnet(Maps x, double[]? siluTemb, RefWeights w, int groups, double eps)
    {
        var h = Conv(GroupNorm(x, w.Sub("norm1"), groups, eps, silu: true), w.Sub("conv1"));
        if (siluTemb is not null && w.HasModule("time_emb_proj"))
        {
            var t = Linear(siluTemb, x.N, w.Sub("time_emb_proj"));    // [N, Cout]
            int plane = h.H * h.W;
            for (int i = 0; i < h.V.Length; i++) h.V[i] += t[i / plane];
        }
        h = Conv(GroupNorm(h, w.Sub("norm2"), groups, eps, silu: true), w.Sub("conv2"));
        var shortcut = w.HasModule("conv_shortcut") ? Conv(x, w.Sub("conv_shortcut")) : x;
        return Add(shortcut, h);
    }

    /// <summary>
    /// diffusers BasicTransformerBlock (SD v1): x += attn1(norm1(x)); x += attn2(norm2(x), ctx);
    /// x += net.2(GEGLU(net.0.proj(norm3(x)))), LayerNorm eps 1e-5. x [B, T, C], ctx [B, S, Cctx] -> [B, T, C]
    /// </summary>
    public static Tokens BasicTransformerBlock(Tokens x, Tokens context, RefWeights w, int heads)
    {
        x = Add(x, Attention(LayerNorm(x, w.Sub("norm1"), 1e-5), null, w.Sub("attn1"), heads));
        x = Add(x, Attention(LayerNorm(x, w.Sub("norm2"), 1e-5), context, w.Sub("attn2"), heads));
        var projected = Linear(LayerNorm(x, w.Sub("norm3"), 1e-5), w.Sub("ff.net.0.proj"));   // [B, T, 8C]
        var gated = new Tokens(Geglu(projected.V, projected.C / 2), x.B, x.T, projected.C / 2);  // [B, T, 4C]
        return Add(x, Linear(gated, w.Sub("ff.net.2")));
    }

    /// <summary>
    /// diffusers Transformer2DModel (use_linear_projection false): GroupNorm(eps 1e-6) -> proj_in 1x1 -> tokens [N, HW, C]
    /// -> blocks -> maps -> proj_out 1x1 -> + x. x [N, C, H, W], ctx [N, S, Cctx] -> [N, C, H, W]
    /// </summary>
    public static Maps Transformer2D(Maps x, Tokens context, RefWeights w, int heads, int groups)
    {
        var h = ToTokens(Conv(GroupNorm(x, w.Sub("norm"), groups, 1e-6, silu: false), w.Sub("proj_in")));
        for (int b = 0; w.HasModule($"transformer_blocks.{b}"); b++)
            h = BasicTransformerBlock(h, context, w.Sub($"transformer_blocks.{b}"), heads);
        return Add(Conv(ToMaps(h, x.H, x.W), w.Sub("proj_out")), x);
    }

    // [N, C, H, W] -> [N, H W, C]
    public static Tokens ToTokens(Maps x)
    {
        int plane = x.H * x.W;
        var y = new double[x.V.Length];
        for (int n = 0; n < x.N; n++)
            for (int c = 0; c < x.C; c++)
                for (int p = 0; p < plane; p++) y[(n * plane + p) * x.C + c] = x.V[(n * x.C + c) * plane + p];
        return new Tokens(y, x.N, plane, x.C);
    }

    // [N, H W, C] -> [N, C, H, W]
    public static Maps ToMaps(Tokens x, int height, int width)
    {
        int plane = height * width;
        var y = new double[x.V.Length];
        for (int n = 0; n < x.B; n++)
            for (int c = 0; c < x.C; c++)
                for (int p = 0; p < plane; p++) y[(n * x.C + c) * plane + p] = x.V[(n * plane + p) * x.C + c];
        return new Maps(y, x.B, x.C, height, width);
    }

    /// <summary>
    /// torch.nn.functional.interpolate(x, size=(height, width), mode="nearest"), which diffusers' UNet applies when a skip
    /// connection is odd-sized: source index floor(i * in / out) with the scale in float32, as PyTorch's CPU kernel
    /// (nearest_idx: the identity when the sizes agree, i / 2 when out = 2 in).
    /// </summary>
    public static Maps UpsampleNearestTo(Maps x, int height, int width)
    {
        static int Source(int i, int input, int output) =>
            output == input ? i : output == 2 * input ? i >> 1 : Math.Min((int)MathF.Floor(i * ((float)input / output)), input - 1);
        var y = new double[x.N * x.C * height * width];
        for (int p = 0; p < x.N * x.C; p++)
            for (int i = 0; i < height; i++)
                for (int j = 0; j < width; j++)
                    y[(p * height + i) * width + j] = x.V[(p * x.H + Source(i, x.H, height)) * x.W + Source(j, x.W, width)];
        return new Maps(y, x.N, x.C, height, width);
    }

    public static Maps UpsampleNearest2x(Maps x) => new(DoubleReference.UpsampleNearest2x(x.V, x.N * x.C, x.H, x.W), x.N, x.C, 2 * x.H, 2 * x.W);

    public static Maps ConcatChannels(Maps a, Maps b) => new(DoubleReference.ConcatChannels(a.V, b.V, a.N), a.N, a.C + b.C, a.H, a.W);

    // GEGLU (Shazeer 2020) as diffusers: hidden, gate = x.chunk(2, -1); hidden * gelu(gate). x [R, 2D] -> [R, D]
    public static double[] Geglu(double[] x, int d)
    {
        var y = new double[x.Length / 2];
        for (int r = 0; r < y.Length / d; r++)
            for (int i = 0; i < d; i++) y[r * d + i] = x[r * 2 * d + i] * Gelu(x[r * 2 * d + d + i]);
        return y;
    }

    /// <summary>
    /// Exact GELU x Phi(x) = x (1 + erf(x / sqrt 2)) / 2. For |x / sqrt 2| &lt;= 4 erf is the series of
    /// <see cref="DoubleReference.Erf"/>; beyond, x Phi(x) = x (1 - erfc(z) / 2) or x erfc(|z|) / 2 with erfc from its
    /// continued fraction erfc(z) = exp(-z^2) / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...)))) (Abramowitz and Stegun 7.1.14),
    /// which for z &gt; 4 reaches double precision in far fewer than the 60 terms used.
    /// </summary>
    public static double Gelu(double x)
    {
        double z = x / Math.Sqrt(2);
        if (Math.Abs(z) <= 4) return 0.5 * x * (1 + DoubleReference.Erf(z));
        double erfc = Erfc(Math.Abs(z));
        return x > 0 ? x * (1 - 0.5 * erfc) : 0.5 * x * erfc;
    }

    private static double Erfc(double z)
    {
        double fraction = z;
        for (int n = 60; n >= 1; n--) fraction = z + n / 2.0 / fraction;
        return Math.Exp(-z * z) / Math.Sqrt(Math.PI) / fraction;
    }

    // CLIP quick_gelu: x sigmoid(1.702 x)
    public static double QuickGelu(double x) => x / (1 + Math.Exp(-1.702 * x));
}
