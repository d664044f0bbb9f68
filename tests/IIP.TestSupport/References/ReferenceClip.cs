using IIP.Engine.Configs;
using IIP.Engine.Weights;
using static IIP.TestSupport.References.ReferenceLayers;

namespace IIP.TestSupport.References;

/// <summary>
/// transformers CLIPTextModel in double precision: h = token_embedding[ids] + position_embedding[0..T); per layer
/// h += out_proj(causal multi-head attention of q/k/v_proj(layer_norm1(h))); h += fc2(quick_gelu(fc1(layer_norm2(h))));
/// output final_layer_norm(h), the last hidden state SD v1 conditions on.
/// </summary>
internal static class ReferenceClip
{
    // ids: N sequences of T ids -> [N, T, D]
    public static Tokens Forward(IWeightSource weights, TextEncoderConfig c, int[][] ids)
    {
        var w = new RefWeights(weights, "text_model.");
        var tokenEmbedding = w["embeddings.token_embedding.weight"];       // [V, D]
        var positionEmbedding = w["embeddings.position_embedding.weight"]; // [P, D]
        int n = ids.Length, t = ids[0].Length, d = c.HiddenSize;
        var h0 = new double[n * t * d];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < t; i++)
                for (int j = 0; j < d; j++)
                    h0[(b * t + i) * d + j] = tokenEmbedding[ids[b][i] * d + j] + positionEmbedding[i * d + j];
        var h = new Tokens(h0, n, t, d);
        double eps = c.LayerNormEps;
        for (int l = 0; l < c.Layers; l++)
        {
            var layer = w.Sub($"encoder.layers.{l}");
            var attention = layer.Sub("self_attn");
            var x = LayerNorm(h, layer.Sub("layer_norm1"), eps);
            var q = Linear(x, attention.Sub("q_proj"));
            var k = Linear(x, attention.Sub("k_proj"));
            var v = Linear(x, attention.Sub("v_proj"));
            var o = DoubleReference.Attention(q.V, k.V, v.V, n, t, t, d, d, c.Heads, causal: true);
            h = Add(h, Linear(new Tokens(o, n, t, d), attention.Sub("out_proj")));
            var m = Linear(LayerNorm(h, layer.Sub("layer_norm2"), eps), layer.Sub("mlp.fc1"));
            Func<double, double> activation = c.HiddenAct == "quick_gelu" ? QuickGelu : Gelu;
            m = m with { V = m.V.Select(activation).ToArray() };
            h = Add(h, Linear(m, layer.Sub("mlp.fc2")));
        }
        return LayerNorm(h, w.Sub("final_layer_norm"), eps);
    }
}
