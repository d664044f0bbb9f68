using System.Globalization;
using System.Text.RegularExpressions;

namespace IIP.Engine.Weights;

/// <summary>
/// The text encoder of an SD 2.x single-file checkpoint, OpenCLIP's text transformer under
/// <c>cond_stage_model.model.*</c>, renamed to transformers' CLIPTextModel names (as diffusers'
/// convert_open_clip_checkpoint does): <c>transformer.resblocks.i</c> is <c>encoder.layers.i</c> with ln_1/ln_2 the layer
/// norms, <c>mlp.c_fc</c>/<c>c_proj</c> fc1/fc2, and the fused <c>attn.in_proj_weight</c> [3D, D] (bias [3D]) split into
/// q, k and v by rows; <c>ln_final</c> is the final layer norm. SD 2.x takes the penultimate block's output through
/// ln_final, so the checkpoint's last block is not a parameter of the model; neither are <c>text_projection</c> and
/// <c>logit_scale</c> (CLIP's image-text head). Those are skipped.
/// </summary>
public static partial class OpenClipTextKeys
{
    public const string Prefix = "cond_stage_model.model.";

    /// <summary>Whether the checkpoint's text encoder is in OpenCLIP layout (SD 2.x).</summary>
    public static bool IsOpenClip(IEnumerable<string> names) => names.Any(n => n.StartsWith(Prefix, StringComparison.Ordinal));

    /// <summary>The transformer blocks the checkpoint holds (the model uses all but the last).</summary>
    public static int StoredBlocks(IEnumerable<string> names) =>
        names.Select(n => ResblockPattern().Match(n)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture) + 1).DefaultIfEmpty(0).Max();

    /// <summary>
    /// The diffusers names an OpenCLIP tensor supplies, each with the third of its rows it takes (0, 1, 2 for the q, k, v
    /// of the fused projection; -1 for the whole tensor); empty for a tensor the model does not use; null for a name
    /// this map does not know (left under its own name, so validation reports it).
    /// </summary>
    public static IReadOnlyList<(string Name, int Third)>? Map(string ldmName, int usedLayers)
    {
        if (!ldmName.StartsWith(Prefix, StringComparison.Ordinal)) return null;
        string r = ldmName[Prefix.Length..];
        switch (r)
        {
            case "token_embedding.weight": return [("text_model.embeddings.token_embedding.weight", -1)];
            case "positional_embedding": return [("text_model.embeddings.position_embedding.weight", -1)];
            case "ln_final.weight": return [("text_model.final_layer_norm.weight", -1)];
            case "ln_final.bias": return [("text_model.final_layer_norm.bias", -1)];
            case "text_projection" or "logit_scale" or "attn_mask": return [];
        }
        var m = ResblockPattern().Match(r);
        if (!m.Success) return null;
        int layer = int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
        if (layer >= usedLayers) return [];   // the last block: SD 2.x stops one before it
        string rest = r[m.Length..], to = $"text_model.encoder.layers.{layer}.";
        foreach (var (from, name) in Renames)
            if (rest.StartsWith(from, StringComparison.Ordinal) && rest.Length > from.Length)
                return [(to + name + rest[from.Length..], -1)];
        return rest switch
        {
            "attn.in_proj_weight" => [(to + "self_attn.q_proj.weight", 0), (to + "self_attn.k_proj.weight", 1), (to + "self_attn.v_proj.weight", 2)],
            "attn.in_proj_bias" => [(to + "self_attn.q_proj.bias", 0), (to + "self_attn.k_proj.bias", 1), (to + "self_attn.v_proj.bias", 2)],
            _ => null,
        };
    }

    private static readonly (string From, string To)[] Renames =
    [
        ("ln_1.", "layer_norm1."),
        ("ln_2.", "layer_norm2."),
        ("attn.out_proj.", "self_attn.out_proj."),
        ("mlp.c_fc.", "mlp.fc1."),
        ("mlp.c_proj.", "mlp.fc2."),
    ];

    [GeneratedRegex(@"^transformer\.resblocks\.(\d+)\.")]
    private static partial Regex ResblockPattern();
}
