using System.Diagnostics;
using System.Globalization;
using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Engine.Diagnostics;

/// <summary>
/// The op sequence of one SD v1.4 UNet forward (diffusers UNet2DConditionModel: block channels 320/640/1280/1280,
/// 2 ResNet blocks per level, one transformer per ResNet in the three cross-attention levels, 8 heads, context
/// 77 x 768), run on the backend with random tensors of the right shapes. It is not the model (no weights file,
/// no skip values carried): it times exactly the ops and shapes a forward runs, so the backend's share of peak
/// on the real workload can be measured before the model code exists. Time and FLOP are kept per op kind
/// (with <c>byShape</c>, per op kind and output shape). For a backend that queues work asynchronously (CUDA), pass its
/// <c>synchronize</c>: each op is then timed from an idle device to its completion.
/// </summary>
public sealed class UNetOpSequence(IBackend be, int batch, int height, int width, bool byShape = false, Action? synchronize = null)
{
    private readonly Dictionary<string, Tensor> _inputs = [];
    private readonly Dictionary<string, (double Seconds, double Flop, int Count)> _byKind = [];

    public IReadOnlyDictionary<string, (double Seconds, double Flop, int Count)> ByKind => _byKind;

    public void Reset() => _byKind.Clear();

    /// <summary>One forward pass: conv_in, down blocks, mid block, up blocks, conv_out.</summary>
    public void Forward()
    {
        int h = height, w = width;
        Conv3x3(4, 320, h, w);
        int[] channels = [320, 640, 1280, 1280];
        var skips = new List<int> { 320 };
        int cin = 320;
        for (int level = 0; level < 4; level++)
        {
            int c = channels[level];
            for (int i = 0; i < 2; i++)
            {
                ResNet(cin, c, h, w);
                if (level < 3) Transformer(c, h, w);
                cin = c;
                skips.Add(c);
            }
            if (level < 3)
            {
                Conv3x3(c, c, h, w, stride: 2);
                h /= 2; w /= 2;
                skips.Add(c);
            }
        }
        ResNet(1280, 1280, h, w);
        Transformer(1280, h, w);
        ResNet(1280, 1280, h, w);
        for (int level = 3; level >= 0; level--)
        {
            int c = channels[level];
            for (int i = 0; i < 3; i++)
            {
                int skip = skips[^1];
                skips.RemoveAt(skips.Count - 1);
                Run("concat", 0, () => be.ConcatChannels(Input(batch, cin, h, w), Input(batch, skip, h, w)));
                ResNet(cin + skip, c, h, w);
                if (level < 3) Transformer(c, h, w);
                cin = c;
            }
            if (level > 0)
            {
                Run("upsample", 0, () => be.UpsampleNearest2x(Input(batch, c, h, w)));
                h *= 2; w *= 2;
                Conv3x3(c, c, h, w);
            }
        }
        Run("groupnorm", 0, () => be.GroupNorm(Input(batch, 320, h, w), Input(320), Input(320), 32, 1e-5f, true));
        Conv3x3(320, 4, h, w);
    }

    private void ResNet(int cin, int cout, int h, int w)
    {
        Run("groupnorm", 0, () => be.GroupNorm(Input(batch, cin, h, w), Input(cin), Input(cin), 32, 1e-5f, true));
        Conv3x3(cin, cout, h, w);
        Run("linear", 2.0 * batch * 1280 * cout, () => be.Linear(Input(batch, 1280), Weight(cout, 1280), Input(cout)));
        Run("elementwise", 0, () => be.AddChannelBias(Input(batch, cout, h, w), Input(batch, cout)));
        Run("groupnorm", 0, () => be.GroupNorm(Input(batch, cout, h, w), Input(cout), Input(cout), 32, 1e-5f, true));
        Conv3x3(cout, cout, h, w);
        if (cin != cout)
            Run("conv1x1", 2.0 * batch * cin * cout * h * w, () => be.Conv2d(Input(batch, cin, h, w), Weight(cout, cin, 1, 1), Input(cout), 1, default));
        Run("elementwise", 0, () => be.Add(Input(batch, cout, h, w), Input(batch, cout, h, w)));
    }

    private void Transformer(int c, int h, int w)
    {
        int t = h * w, m = batch * t;
        Run("groupnorm", 0, () => be.GroupNorm(Input(batch, c, h, w), Input(c), Input(c), 32, 1e-6f, false));
        Run("conv1x1", 2.0 * m * c * c, () => be.Conv2d(Input(batch, c, h, w), Weight(c, c, 1, 1), Input(c), 1, default));
        Run("layout", 0, () => be.ChannelsToTokens(Input(batch, c, h, w)));
        // self-attention
        Run("layernorm", 0, () => be.LayerNorm(Input(batch, t, c), Input(c), Input(c), 1e-5f));
        for (int i = 0; i < 3; i++) Linear(m, c, c, bias: false);
        Run("attention self", 4.0 * batch * t * t * c, () => be.Attention(Input(batch, t, c), Input(batch, t, c), Input(batch, t, c), 8, false));
        Linear(m, c, c, bias: true);
        Run("elementwise", 0, () => be.Add(Input(batch, t, c), Input(batch, t, c)));
        // cross-attention on the 77 text tokens
        Run("layernorm", 0, () => be.LayerNorm(Input(batch, t, c), Input(c), Input(c), 1e-5f));
        Linear(m, c, c, bias: false);
        for (int i = 0; i < 2; i++) Linear(batch * 77, 768, c, bias: false);
        Run("attention cross", 4.0 * batch * t * 77 * c, () => be.Attention(Input(batch, t, c), Input(batch, 77, c), Input(batch, 77, c), 8, false));
        Linear(m, c, c, bias: true);
        Run("elementwise", 0, () => be.Add(Input(batch, t, c), Input(batch, t, c)));
        // GEGLU feed-forward
        Run("layernorm", 0, () => be.LayerNorm(Input(batch, t, c), Input(c), Input(c), 1e-5f));
        Run("linear geglu", 2.0 * m * c * 8 * c, () => be.LinearGeglu(Input(m, c), Weight(8 * c, c), Input(8 * c)));
        Linear(m, 4 * c, c, bias: true);
        Run("elementwise", 0, () => be.Add(Input(batch, t, c), Input(batch, t, c)));
        Run("layout", 0, () => be.TokensToChannels(Input(batch, t, c), h, w));
        Run("conv1x1", 2.0 * m * c * c, () => be.Conv2d(Input(batch, c, h, w), Weight(c, c, 1, 1), Input(c), 1, default));
        Run("elementwise", 0, () => be.Add(Input(batch, c, h, w), Input(batch, c, h, w)));
    }

    private void Conv3x3(int cin, int cout, int h, int w, int stride = 1)
    {
        int ho = (h + 2 - 3) / stride + 1, wo = (w + 2 - 3) / stride + 1;
        Run("conv3x3", 2.0 * batch * cout * cin * 9 * ho * wo,
            () => be.Conv2d(Input(batch, cin, h, w), Weight(cout, cin, 3, 3), Input(cout), stride, Padding2d.Same(1)));
    }

    private void Linear(int m, int k, int n, bool bias)
        => Run("linear", 2.0 * m * k * n, () => be.Linear(Input(m, k), Weight(n, k), bias ? Input(n) : null));

    private void Run(string kind, double flop, Func<Tensor> op)
    {
        // Each output is dead after the op, as most are in the model: the scope returns it to the activation pool.
        using var scope = be.OpenScope();
        synchronize?.Invoke();
        var sw = Stopwatch.StartNew();
        var y = op();
        synchronize?.Invoke();
        double seconds = sw.Elapsed.TotalSeconds;
        if (byShape) kind += $" -> [{y.ShapeText}]";
        var (s, f, n) = _byKind.GetValueOrDefault(kind);
        _byKind[kind] = (s + seconds, f + flop, n + 1);
    }

    // A weight: a random tensor marked constant, as the model's weights are (the CPU backend packs it once).
    private Tensor Weight(params int[] shape) => Input(shape, constant: true);

    // Random inputs and weights, one per shape (created once, outside the timing of later forwards).
    private Tensor Input(params int[] shape) => Input(shape, constant: false);

    private Tensor Input(int[] shape, bool constant)
    {
        string key = string.Join("x", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + (constant ? " constant" : "");
        if (!_inputs.TryGetValue(key, out var tensor))
        {
            var rng = new Random(_inputs.Count + 1);
            var data = new float[Tensor.ElementCount(shape)];
            for (long i = 0; i < data.LongLength; i++) data[i] = (float)(rng.NextDouble() * 2 - 1) * 0.5f;
            tensor = be.FromHost(Tensor.From(data, shape));
            _inputs[key] = tensor = constant ? tensor.AsConstant() : tensor;
        }
        return tensor;
    }
}
