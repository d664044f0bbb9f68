using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Backends.Cpu.Gemm;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Backends;

/// <summary>
/// The GEMM-based ops of <see cref="CpuBackend"/> (Linear, Conv2d, Attention) against <see cref="ReferenceOps"/>,
/// on every micro-kernel family this CPU runs (their tile sizes differ, so edge handling differs).
/// </summary>
public sealed class CpuMatmulOpTests
{
    public static TheoryData<string> KernelSets() => CpuGemmTests.KernelSets();

    private static CpuBackend Backend(string kernels) => CpuGemmTests.Backend(kernels);

    // Dot-product rounding bound as in CpuGemmTests: 8 sqrt(K + 1) u sum |terms|.
    private static Func<int, double> DotTolerance(double[] magnitude, int depth)
        => i => 8 * Math.Sqrt(depth + 1) * NumericAssert.U * magnitude[i];

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void Linear(string kernels)
    {
        var be = Backend(kernels);
        // One and two rows take the dot-product path (time-embedding projections), the rest the GEMM; 1024 outputs with
        // depth over KC take the driver's staged path (C rows 4 KiB apart), where the bias is added with the block.
        foreach (var (m, k, n, bias) in new[] { (1, 1, 1, true), (2, 1280, 70, true), (1, 1280, 130, false), (7, 33, 5, false), (77, 768, 320, true), (300, 40, 70, true), (40, 400, 1024, true) })
        {
            var x = TestArrays.Tensor(1, -1, 1, m, k);
            var w = TestArrays.Tensor(2, -1, 1, n, k);
            var b = bias ? TestArrays.Tensor(3, -1, 1, n) : null;
            var y = be.Allocate(m, n);
            be.Linear(x, w, b, y);
            var entries = new List<(int, int)>();
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) entries.Add((i, j));
            var (expected, magnitude) = ReferenceOps.Gemm(false, true, k, 1f, x.Data, k, w.Data, k, bias ? 1f : 0f,
                bias ? Broadcast(b!.Data, m) : new float[m * n], n, entries);
            NumericAssert.Close($"{kernels} Linear x[{m},{k}] w[{n},{k}] bias={bias}", y.Data, expected, DotTolerance(magnitude, k + 1));
        }
    }

    /// <summary>One convolution case: x [N, C, H, W], w [O, C, KH, KW], stride, padding, bias or not.</summary>
    public sealed record ConvCase(int N, int C, int H, int W, int O, int KH, int KW, int Stride, Padding2d Pad, bool Bias, string Why)
    {
        public override string ToString() => $"{Why}: x[{N},{C},{H},{W}] w[{O},{C},{KH},{KW}] stride {Stride} pad {Pad} bias={Bias}";
    }

    private static readonly ConvCase[] ConvCaseList =
    [
        new(2, 3, 9, 11, 5, 3, 3, 1, Padding2d.Same(1), true, "same padding, batch 2"),
        new(1, 4, 8, 8, 6, 3, 3, 2, new Padding2d(0, 0, 1, 1), true, "VAE encoder downsample: right/bottom pad only"),
        new(1, 5, 13, 10, 7, 3, 3, 2, Padding2d.Same(1), false, "UNet downsample: stride 2, pad 1"),
        new(1, 2, 6, 7, 3, 3, 3, 1, new Padding2d(1, 2, 0, 1), true, "asymmetric on all sides"),
        new(1, 3, 5, 9, 4, 1, 3, 1, new Padding2d(0, 1, 0, 1), false, "non-square kernel"),
        new(2, 6, 7, 5, 9, 1, 1, 1, default, true, "pointwise: plain GEMM on the image"),
        new(1, 4, 9, 9, 3, 1, 1, 2, default, true, "1x1 stride 2: im2col path"),
        new(1, 48, 12, 12, 150, 3, 3, 1, Padding2d.Same(1), true, "depth 432 > KC, O 150 > MC, threaded"),
        new(1, 48, 32, 32, 20, 3, 3, 1, Padding2d.Same(1), true, "1024 pixels and depth 432: staged C blocks, bias per row"),
        // Rows of at most NR / 2 pixels (NR a multiple of Wo) go through a padded copy, whole output rows per panel:
        new(2, 43, 8, 8, 30, 3, 3, 1, Padding2d.Same(1), true, "8x8 images, batch 2, depth 387 > KC: blocks from mid-channel"),
        new(1, 5, 4, 4, 7, 3, 3, 1, Padding2d.Same(1), false, "4x4: several rows per panel, a part-filled last panel"),
        new(1, 3, 6, 6, 4, 3, 3, 1, default, true, "valid 3x3 on 6x6: no padding, read in place"),
        new(1, 4, 2, 2, 5, 3, 3, 1, Padding2d.Same(1), true, "2x2: rows of two"),
    ];

    public static TheoryData<string, ConvCase> ConvCases()
    {
        var data = new TheoryData<string, ConvCase>();
        foreach (string kernels in CpuGemmTests.KernelNames())
            foreach (var conv in ConvCaseList) data.Add(kernels, conv);
        return data;
    }

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void Conv2d(string kernels, ConvCase conv)
    {
        var be = Backend(kernels);
        var x = TestArrays.Tensor(11, -1, 1, conv.N, conv.C, conv.H, conv.W);
        var wt = TestArrays.Tensor(12, -1, 1, conv.O, conv.C, conv.KH, conv.KW);
        var b = conv.Bias ? TestArrays.Tensor(13, -1, 1, conv.O) : null;
        var y = be.Conv2d(x, wt, b, conv.Stride, conv.Pad);
        var (expected, magnitude) = ReferenceOps.Conv2d(x, wt, b, conv.Stride, conv.Pad);
        NumericAssert.Close($"{kernels} Conv2d {conv} -> [{y.ShapeText}]", y.Data, expected, DotTolerance(magnitude, conv.C * conv.KH * conv.KW + 1));
    }

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void Conv2dOfASmallBatchEqualsEachImageAlone(string kernels)
    {
        // Batches of images up to 256 output pixels run as one GEMM over the images side by side; each output element
        // sums the same terms in the same order as a one-image convolution, so the results are bitwise equal. Cases:
        // 99 pixels (panels straddle images), pointwise, stride 2, and weights packed in advance.
        var be = Backend(kernels);
        foreach (var (n, c, height, width, o, kernel, stride, constant) in new[]
                 { (3, 5, 9, 11, 7, 3, 1, false), (2, 6, 8, 8, 9, 1, 1, true), (2, 4, 13, 10, 30, 3, 2, false), (2, 48, 16, 16, 20, 3, 1, true) })
        {
            var x = TestArrays.Tensor(31, -1, 1, n, c, height, width);
            var wt = TestArrays.Tensor(32, -1, 1, o, c, kernel, kernel);
            if (constant) wt = wt.AsConstant();
            var b = TestArrays.Tensor(33, -1, 1, o);
            var pad = Padding2d.Same(kernel / 2);
            var batch = be.Conv2d(x, wt, b, stride, pad);
            for (int i = 0; i < n; i++)
            {
                var alone = be.Conv2d(x.SliceBatch(i), wt, b, stride, pad);
                Assert.True(alone.Data.AsSpan().SequenceEqual(batch.SliceBatch(i).Data),
                    $"{kernels} Conv2d x[{n},{c},{height},{width}] w[{o},{c},{kernel},{kernel}] stride {stride}: image {i} differs from its batch");
            }
        }
    }

    [Fact]
    public void Conv2dAtStableDiffusionSize()
    {
        // 3x3, 320 -> 320 channels at 16x16 (the 64x64 level runs the same code on 16x the pixels), bias:
        // checked on 16 output channels of the reference to keep the double loops short.
        var be = CpuBackend.Instance;
        var x = TestArrays.Tensor(21, -1, 1, 1, 320, 16, 16);
        var wt = TestArrays.Tensor(22, -0.05f, 0.05f, 320, 320, 3, 3);
        var b = TestArrays.Tensor(23, -1, 1, 320);
        var y = be.Conv2d(x, wt, b, 1, Padding2d.Same(1));
        int[] channels = [0, 1, 11, 12, 13, 143, 144, 145, 200, 287, 288, 300, 311, 317, 318, 319];
        var wSub = new Tensor([channels.Length, 320, 3, 3]);
        var bSub = new Tensor([channels.Length]);
        for (int i = 0; i < channels.Length; i++)
        {
            Array.Copy(wt.Data, channels[i] * 2880L, wSub.Data, i * 2880L, 2880);
            bSub.Data[i] = b.Data[channels[i]];
        }
        var (expected, magnitude) = ReferenceOps.Conv2d(x, wSub, bSub, 1, Padding2d.Same(1));
        var actual = new float[expected.Length];
        for (int i = 0; i < channels.Length; i++) Array.Copy(y.Data, channels[i] * 256L, actual, i * 256L, 256);
        NumericAssert.Close("Conv2d 3x3 320 -> 320 at 16x16 (16 sampled channels)", actual, expected, DotTolerance(magnitude, 2881));
    }

    public static TheoryData<string, int, int, int, int, int, int, bool> AttentionCases()
    {
        var data = new TheoryData<string, int, int, int, int, int, int, bool>();
        foreach (string k in CpuGemmTests.KernelNames())
        {
            // kernels, B, Tq, Tk, C, Cv, heads, causal
            data.Add(k, 2, 37, 77, 24, 30, 3, false);   // cross-attention-like: Tq != Tk, Cv != C, 3 heads
            data.Add(k, 1, 50, 50, 16, 16, 2, true);    // causal (CLIP text encoder)
            data.Add(k, 2, 77, 77, 12, 12, 12, true);   // head size 1
            data.Add(k, 1, 1, 5, 8, 4, 1, false);       // one query
            data.Add(k, 1, 300, 300, 64, 64, 2, true);  // threaded, causal, query tail block
            data.Add(k, 1, 257, 300, 80, 40, 2, false); // threaded, d = 40 as SD's first level, dv = 20
            data.Add(k, 1, 40, 1100, 16, 24, 2, false); // three key chunks of the online softmax
            data.Add(k, 1, 600, 600, 16, 8, 2, true);   // causal across key chunks, several query panels per item
        }
        return data;
    }

    // Attention tolerance: y = sum_t p_t v_t / sum_t p_t. Score rounding (K = d products), the 2^x polynomial
    // (under 1.5 ulp) and the two sums each perturb the weights by a few ulp relative, so the error is bounded by
    // a small multiple of u sqrt(Tk) times sum_t p_t |v_t| / sum_t p_t (the magnitude); 1e-5 of it is > 50x that
    // for Tk <= 4096, and far below any mistake in masking, scaling or head slicing.
    private static Func<int, double> AttentionTolerance(double[] magnitude) => i => 1e-5 * magnitude[i] + 1e-7;

    [Theory]
    [MemberData(nameof(AttentionCases))]
    public void Attention(string kernels, int bsz, int tq, int tk, int c, int cv, int heads, bool causal)
    {
        var be = Backend(kernels);
        // Queries 3x larger than keys make the softmax peaked, so a wrong scale or mask shows.
        var q = TestArrays.Tensor(31, -3, 3, bsz, tq, c);
        var k = TestArrays.Tensor(32, -1, 1, bsz, tk, c);
        var v = TestArrays.Tensor(33, -1, 1, bsz, tk, cv);
        var y = be.Attention(q, k, v, heads, causal);
        var (expected, magnitude) = ReferenceOps.Attention(q, k, v, heads, causal, Enumerable.Range(0, tq).ToList());
        NumericAssert.Close($"{kernels} Attention q[{q.ShapeText}] k[{k.ShapeText}] v[{v.ShapeText}] heads {heads} causal={causal}",
            y.Data, expected, AttentionTolerance(magnitude));
    }

    [Theory]
    [MemberData(nameof(KernelSets))]
    public void AttentionWithAPeakedSoftmax(string kernels)
    {
        // Scores up to about 16 x 16 x 40 / sqrt(40) = 1600 apart: nearly every exp term is below 2^-64 of its column's
        // maximum (flushed to 0), and later key chunks raise the maxima by far more than 44, so what earlier chunks
        // accumulated is rescaled by 0. 1100 keys are three chunks of the online softmax.
        var be = Backend(kernels);
        var q = TestArrays.Tensor(51, -16, 16, 1, 70, 80);
        var k = TestArrays.Tensor(52, -16, 16, 1, 1100, 80);
        var v = TestArrays.Tensor(53, -1, 1, 1, 1100, 80);
        var y = be.Attention(q, k, v, 2, false);
        var (expected, magnitude) = ReferenceOps.Attention(q, k, v, 2, false, Enumerable.Range(0, 70).ToList());
        // Scores this large carry rounding far beyond AttentionTolerance's few ulp: a score is a d-term dot product, off
        // by up to about d u sum_i |q_i k_i| / sqrt(d) (typically sqrt(d) u of it), and that absolute error in exp's
        // argument moves the weights by as much relative. Bound: AttentionTolerance plus 8 u max_t sum_i |q_i k_ti| /
        // sqrt(d) of the magnitude per (query, head); the measured errors stay below a third of it. A term wrongly
        // flushed or a chunk wrongly rescaled errs by a sizable fraction of the magnitude.
        const int d = 40;
        var scoreScale = new double[70 * 2];
        for (int row = 0; row < 70; row++)
            for (int head = 0; head < 2; head++)
                for (int t = 0; t < 1100; t++)
                {
                    double abs = 0;
                    for (int i = head * d; i < (head + 1) * d; i++)
                        abs += Math.Abs((double)q.Data[row * 80 + i] * k.Data[t * 80 + i]);
                    scoreScale[row * 2 + head] = Math.Max(scoreScale[row * 2 + head], abs / Math.Sqrt(d));
                }
        var baseTolerance = AttentionTolerance(magnitude);
        NumericAssert.Close($"{kernels} Attention with a peaked softmax", y.Data, expected,
            i => baseTolerance(i) + 8 * NumericAssert.U * scoreScale[i / 80 * 2 + i % 80 / d] * magnitude[i]);
        foreach (float value in y.Data)
            Assert.True(value == 0f || Math.Abs(value) >= ColumnSoftmaxTests.SmallestNormal, $"{kernels}: sub-normal output {value:R}");
    }

    [Theory]
    [InlineData(4096, 320, 8)]  // self-attention at the 64x64 level, head size 40
    [InlineData(77, 320, 8)]    // cross-attention keys from the 77 text tokens
    [InlineData(256, 1280, 8)]  // 16x16 level, head size 160
    public void AttentionAtStableDiffusionSize(int keys, int channels, int heads)
    {
        // 512 queries (16 blocks of 32); the reference is evaluated on 16 sampled rows (first and last blocks included).
        int tq = 512;
        var q = TestArrays.Tensor(41, -1, 1, 1, tq, channels);
        var k = TestArrays.Tensor(42, -1, 1, 1, keys, channels);
        var v = TestArrays.Tensor(43, -1, 1, 1, keys, channels);
        var y = CpuBackend.Instance.Attention(q, k, v, heads, false);
        var rng = new Random(5);
        var rows = new List<int> { 0, 1, 31, 32, tq - 1 };
        while (rows.Count < 16) rows.Add(rng.Next(tq));
        var (expected, magnitude) = ReferenceOps.Attention(q, k, v, heads, false, rows);
        var actual = new float[expected.Length];
        for (int r = 0; r < rows.Count; r++) Array.Copy(y.Data, (long)rows[r] * channels, actual, (long)r * channels, channels);
        NumericAssert.Close($"Attention {tq} queries x {keys} keys, C={channels}, {heads} heads (16 sampled rows)",
            actual, expected, AttentionTolerance(magnitude));
    }

    [Fact]
    public void ShapeErrorsNameTheOp()
    {
        var be = CpuBackend.Instance;
        var ex = Assert.Throws<ArgumentException>(() => be.Linear(new Tensor([2, 3]), new Tensor([4, 5]), null, new Tensor([2, 4])));
        Assert.Contains("Linear", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => be.Attention(new Tensor([1, 4, 6]), new Tensor([1, 5, 6]), new Tensor([1, 5, 6]), 2, true, new Tensor([1, 4, 6])));
        Assert.Contains("Attention", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => be.Conv2d(new Tensor([1, 3, 4, 4]), new Tensor([2, 4, 3, 3]), null, 1, Padding2d.Same(1), new Tensor([1, 2, 4, 4])));
        Assert.Contains("Conv2d", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => be.LinearGeglu(new Tensor([2, 3]), new Tensor([5, 3]), null, new Tensor([2, 2])));
        Assert.Contains("LinearGeglu", ex.Message);
    }

    private static float[] Broadcast(float[] row, int times)
    {
        var data = new float[row.Length * times];
        for (int i = 0; i < times; i++) row.CopyTo(data, i * row.Length);
        return data;
    }
}
