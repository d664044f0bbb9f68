using IIP.TestSupport.References;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Gradients;

public class AttentionBackwardTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    public static TheoryData<int, int, int, int, int, int, bool> Cases => new()
    {
        // b, tq, tk, c, cv, heads, causal
        { 2, 5, 7, 6, 8, 2, false },    // cross-attention shape: Tq != Tk, Cv != C
        { 1, 6, 6, 8, 8, 2, true },     // CLIP-style causal self-attention
        { 2, 4, 4, 6, 6, 3, false },    // self-attention
        { 1, 300, 5, 4, 4, 1, false },  // more than one 256-row block: dK, dV accumulate over blocks
        { 1, 260, 260, 2, 2, 1, true }, // causal across the row-block boundary
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void InputGradientsMatchFiniteDifferences(int b, int tq, int tk, int c, int cv, int heads, bool causal)
    {
        var rng = new Random(b * 1000 + tq * 10 + tk + (causal ? 7 : 0));
        var q = VjpHarness.Uniform(rng, 1.5f, b, tq, c);   // [B, Tq, C]
        var k = VjpHarness.Uniform(rng, 1.5f, b, tk, c);   // [B, Tk, C]
        var v = VjpHarness.Uniform(rng, 1f, b, tk, cv);    // [B, Tk, Cv]
        var r = VjpHarness.Uniform(rng, 1f, b, tq, cv);    // dy [B, Tq, Cv]
        var (dq, dk, dv) = Cpu.AttentionBackward(q, k, v, heads, causal, r);
        double[] q64 = VjpHarness.ToDouble(q), k64 = VjpHarness.ToDouble(k), v64 = VjpHarness.ToDouble(v);
        string name = $"Attention b={b} tq={tq} tk={tk} c={c} cv={cv} heads={heads} causal={causal}";
        // the large cases sample 40 coordinates per input (each costs four O(Tq Tk) forwards); every key's
        // gradient there sums over both row blocks
        var tol = new VjpTolerances { Coordinates = tq > 64 ? 40 : 400 };

        VjpHarness.Check(name + " dq", q, r, dq, x => Cpu.Attention(x, k, v, heads, causal),
            x => DoubleReference.Attention(x, k64, v64, b, tq, tk, c, cv, heads, causal), tol);
        VjpHarness.Check(name + " dk", k, r, dk, x => Cpu.Attention(q, x, v, heads, causal),
            x => DoubleReference.Attention(q64, x, v64, b, tq, tk, c, cv, heads, causal), tol);
        VjpHarness.Check(name + " dv", v, r, dv, x => Cpu.Attention(q, k, x, heads, causal),
            x => DoubleReference.Attention(q64, k64, x, b, tq, tk, c, cv, heads, causal), tol);
    }

    [Fact]
    public void NullDestinationsAreSkippedAndOthersUnchanged()
    {
        var rng = new Random(11);
        var q = VjpHarness.Uniform(rng, 1f, 1, 5, 4);
        var k = VjpHarness.Uniform(rng, 1f, 1, 3, 4);
        var v = VjpHarness.Uniform(rng, 1f, 1, 3, 6);
        var dy = VjpHarness.Uniform(rng, 1f, 1, 5, 6);
        var (dqAll, dkAll, dvAll) = Cpu.AttentionBackward(q, k, v, 2, false, dy);
        var dk = new Tensor(k.Shape);
        Cpu.AttentionBackward(q, k, v, 2, false, dy, null, dk, null);
        Assert.Equal(dkAll.Data, dk.Data);
        var dq = new Tensor(q.Shape); var dv = new Tensor(v.Shape);
        Cpu.AttentionBackward(q, k, v, 2, false, dy, dq, null, dv);
        Assert.Equal(dqAll.Data, dq.Data);
        Assert.Equal(dvAll.Data, dv.Data);
    }

    [Fact]
    public void CausalRequiresSquareScores()
    {
        var ex = Assert.Throws<ArgumentException>(() => Cpu.AttentionBackward(new Tensor([1, 3, 4]), new Tensor([1, 5, 4]),
            new Tensor([1, 5, 4]), 1, true, new Tensor([1, 3, 4])));
        Assert.Contains(nameof(CpuBackend.AttentionBackward), ex.Message);
    }
}
