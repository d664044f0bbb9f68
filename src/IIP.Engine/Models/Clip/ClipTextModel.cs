using IIP.Engine.Configs;
using IIP.Engine.Backends;
using IIP.Engine.Models.Layers;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Models.Clip;

/// <summary>
/// CLIP text transformer (transformers CLIPTextModel; Radford et al. 2021), pre-LayerNorm:
/// h = token_embedding[ids] + position_embedding; per layer h += attn(ln1(h)) (causal, heads of size
/// width / heads) and h += fc2(act(fc1(ln2(h)))), act = quick_gelu; output = final_layer_norm(h), the
/// last hidden state SD v1 conditions on.
/// </summary>
public sealed class ClipTextModel
{
    public TextEncoderConfig Config { get; }
    private readonly IBackend _be;
    private readonly Tensor _tokenEmbedding;      // [V, D] on the host (gathered per id)
    private readonly Tensor _positionEmbedding;   // [P, D] on the host
    private readonly ClipEncoderLayer[] _layers;
    private readonly LayerNorm _finalNorm;

    public ClipTextModel(IWeightSource weights, TextEncoderConfig config, IBackend backend)
    {
        Config = config;
        _be = backend;
        var host = new ModuleWeights(weights, Backends.Cpu.CpuBackend.Instance, "text_model.");
        _tokenEmbedding = host["embeddings.token_embedding.weight"];
        _positionEmbedding = host["embeddings.position_embedding.weight"];
        var w = new ModuleWeights(weights, backend, "text_model.");
        _layers = Enumerable.Range(0, w.CountChildren("encoder.layers"))
            .Select(i => new ClipEncoderLayer(w.Sub("encoder.layers", i), config)).ToArray();
        _finalNorm = new LayerNorm(w.Sub("final_layer_norm"), config.LayerNormEps);
    }

    public int Width => _tokenEmbedding.Shape[1];

    // ids: N sequences of T ids -> [N, T, D]
    public Tensor Forward(IReadOnlyList<int[]> ids)
    {
        using var range = IIP.Native.Nvtx.Range("text encoder");
        int n = ids.Count, t = ids[0].Length, d = Width;
        if (t > _positionEmbedding.Shape[0])
            throw new ArgumentException($"text encoder: {t} tokens exceed {_positionEmbedding.Shape[0]} positions");
        var h0 = new Tensor([n, t, d]);
        for (int b = 0; b < n; b++)
        {
            if (ids[b].Length != t) throw new ArgumentException("text encoder: all sequences must have the same length");
            for (int i = 0; i < t; i++)
            {
                int id = ids[b][i];
                if ((uint)id >= (uint)_tokenEmbedding.Shape[0])
                    throw new ArgumentException($"text encoder: token id {id} outside the vocabulary of {_tokenEmbedding.Shape[0]}");
                var dst = h0.Data.AsSpan((b * t + i) * d, d);
                var tok = _tokenEmbedding.Data.AsSpan(id * d, d);
                var pos = _positionEmbedding.Data.AsSpan(i * d, d);
                for (int j = 0; j < d; j++) dst[j] = tok[j] + pos[j];
            }
        }
        using var scope = _be.OpenScope();
        var embedded = _be.FromHost(h0);
        var h = embedded;
        foreach (var layer in _layers) h = layer.Forward(h);
        var output = scope.Keep(_finalNorm.Forward(h));
        _be.Release(embedded);   // the upload (the CPU's is h0 itself: nothing to release)
        return output;
    }
}

/// <summary>One CLIPEncoderLayer: self_attn (q/k/v/out_proj with biases), layer_norm1/2, mlp.fc1/fc2.</summary>
internal sealed class ClipEncoderLayer
{
    private readonly LayerNorm _ln1, _ln2;
    private readonly Linear _q, _k, _v, _out, _fc1, _fc2;
    private readonly int _heads;
    private readonly bool _quickGelu;
    private readonly IBackend _be;

    public ClipEncoderLayer(ModuleWeights w, TextEncoderConfig config)
    {
        _ln1 = new LayerNorm(w.Sub("layer_norm1"), config.LayerNormEps);
        _ln2 = new LayerNorm(w.Sub("layer_norm2"), config.LayerNormEps);
        var attn = w.Sub("self_attn");
        _q = new Linear(attn.Sub("q_proj"));
        _k = new Linear(attn.Sub("k_proj"));
        _v = new Linear(attn.Sub("v_proj"));
        _out = new Linear(attn.Sub("out_proj"));
        _fc1 = new Linear(w.Sub("mlp.fc1"));
        _fc2 = new Linear(w.Sub("mlp.fc2"));
        _heads = config.Heads;
        _quickGelu = config.HiddenAct == "quick_gelu";
        if (!_quickGelu && config.HiddenAct != "gelu")
            throw new NotSupportedException($"text encoder activation '{config.HiddenAct}' is not supported (quick_gelu, gelu)");
        _be = w.Backend;
    }

    // h [N, T, D] -> [N, T, D]
    public Tensor Forward(Tensor h)
    {
        var x = _ln1.Forward(h);
        var a = _be.Attention(_q.Forward(x), _k.Forward(x), _v.Forward(x), _heads, causal: true); // [N, T, D]
        h = _be.Add(h, _out.Forward(a));
        var m = _fc1.Forward(_ln2.Forward(h));                                                   // [N, T, I]
        m = _quickGelu ? _be.QuickGelu(m) : _be.Gelu(m);
        return _be.Add(h, _fc2.Forward(m));
    }
}
