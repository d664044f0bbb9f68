using IIP.Engine.Configs;

namespace IIP.Engine.Weights;

/// <summary>
/// One renaming rule: every LDM tensor whose name starts with <see cref="LdmPrefix"/> belongs to
/// <see cref="Part"/> under <see cref="DiffusersPrefix"/> + the renamed remainder. The remainder is renamed by
/// <see cref="Suffixes"/> (first segment(s) of the remainder -> diffusers segment(s)) or kept as is when null.
/// <see cref="SqueezeConvToLinear"/> marks LDM 1x1 convs that diffusers stores as linears ([C,C,1,1] -> [C,C], [C,1,1] -> [C]).
/// </summary>
public sealed record LdmRule(string LdmPrefix, ModelPart Part, string DiffusersPrefix, IReadOnlyDictionary<string, string>? Suffixes = null, bool SqueezeConvToLinear = false);

/// <summary>
/// The CompVis/LDM -> diffusers name table for SD v1, as data: part prefixes, per-block suffix renames, and
/// block-index rules expanded for the model's block counts. The layout is the one diffusers'
/// scripts/convert_diffusers_to_original_stable_diffusion.py documents: with L layers per block,
/// UNet input_blocks.{1 + i(L+1) + j}.0/.1 are down_blocks.i.resnets.j/attentions.j and input_blocks.{(i+1)(L+1)}.0.op is
/// down_blocks.i.downsamplers.0.conv; output_blocks.{i(L+1) + j}.0/.1 are up_blocks.i.resnets.j/attentions.j and the
/// upsampler sits after them (.1 without attention, .2 with); middle_block.0/1/2 are mid resnet/attention/resnet.
/// VAE levels keep their order in the encoder (down.i) and are reversed in the decoder (up.{n-1-i} is up_blocks.i).
/// </summary>
public sealed class LdmKeyMap
{
    /// <summary>Where each part lives in an LDM checkpoint. Keys outside these prefixes (model_ema.*, DDPM buffers
    /// such as betas or alphas_cumprod, ...) are not SD v1 parameters and are skipped.</summary>
    public static readonly IReadOnlyList<(string Prefix, ModelPart Part)> PartPrefixes =
    [
        ("model.diffusion_model.", ModelPart.Unet),
        ("first_stage_model.", ModelPart.Vae),
        ("cond_stage_model.transformer.", ModelPart.TextEncoder),
        (OpenClipTextKeys.Prefix, ModelPart.TextEncoder),   // SD 2.x: OpenCLIP's text transformer (OpenClipTextKeys renames it)
    ];

    /// <summary>openaimodel ResBlock -> diffusers ResnetBlock2D.</summary>
    public static readonly IReadOnlyDictionary<string, string> UNetResnetSuffixes = new Dictionary<string, string>
    {
        ["in_layers.0."] = "norm1.",
        ["in_layers.2."] = "conv1.",
        ["emb_layers.1."] = "time_emb_proj.",
        ["out_layers.0."] = "norm2.",
        ["out_layers.3."] = "conv2.",
        ["skip_connection."] = "conv_shortcut.",
    };

    /// <summary>LDM autoencoder ResnetBlock -> diffusers ResnetBlock2D (no time embedding).</summary>
    public static readonly IReadOnlyDictionary<string, string> VaeResnetSuffixes = new Dictionary<string, string>
    {
        ["norm1."] = "norm1.",
        ["conv1."] = "conv1.",
        ["norm2."] = "norm2.",
        ["conv2."] = "conv2.",
        ["nin_shortcut."] = "conv_shortcut.",
    };

    /// <summary>LDM autoencoder AttnBlock (1x1 convs) -> diffusers Attention (linears).</summary>
    public static readonly IReadOnlyDictionary<string, string> VaeAttentionSuffixes = new Dictionary<string, string>
    {
        ["norm."] = "group_norm.",
        ["q."] = "to_q.",
        ["k."] = "to_k.",
        ["v."] = "to_v.",
        ["proj_out."] = "to_out.0.",
    };

    private readonly Dictionary<string, List<LdmRule>> _byPrefix = new(StringComparer.Ordinal);

    public IReadOnlyList<LdmRule> Rules { get; }

    private LdmKeyMap(List<LdmRule> rules)
    {
        Rules = rules;
        foreach (var rule in rules)
        {
            if (!_byPrefix.TryGetValue(rule.LdmPrefix, out var list))
                _byPrefix[rule.LdmPrefix] = list = [];
            list.Add(rule);
        }
    }

    /// <summary>The table for an SD v1 model with these block counts (only counts and attention flags matter).</summary>
    public static LdmKeyMap For(UNetConfig unet, VaeConfig vae)
    {
        var rules = new List<LdmRule>();
        AddUNet(rules, unet);
        AddVae(rules, vae);
        const string te = "cond_stage_model.transformer.";
        rules.Add(new($"{te}text_model.", ModelPart.TextEncoder, "text_model."));
        // transformers < 4.x stored CLIPTextModel without the text_model level.
        rules.Add(new($"{te}embeddings.", ModelPart.TextEncoder, "text_model.embeddings."));
        rules.Add(new($"{te}encoder.", ModelPart.TextEncoder, "text_model.encoder."));
        rules.Add(new($"{te}final_layer_norm.", ModelPart.TextEncoder, "text_model.final_layer_norm."));
        return new LdmKeyMap(rules);
    }

    private static void AddUNet(List<LdmRule> r, UNetConfig c)
    {
        const string u = "model.diffusion_model.";
        var unet = ModelPart.Unet;
        int levels = c.BlockOutChannels.Length, perLevel = c.LayersPerBlock + 1;
        r.Add(new($"{u}input_blocks.0.0.", unet, "conv_in."));
        r.Add(new($"{u}time_embed.0.", unet, "time_embedding.linear_1."));
        r.Add(new($"{u}time_embed.2.", unet, "time_embedding.linear_2."));
        r.Add(new($"{u}out.0.", unet, "conv_norm_out."));
        r.Add(new($"{u}out.2.", unet, "conv_out."));
        for (int i = 0; i < levels; i++)
        {
            for (int j = 0; j < c.LayersPerBlock; j++)
            {
                int block = 1 + i * perLevel + j;
                r.Add(new($"{u}input_blocks.{block}.0.", unet, $"down_blocks.{i}.resnets.{j}.", UNetResnetSuffixes));
                if (c.DownBlockHasAttention[i])
                    r.Add(new($"{u}input_blocks.{block}.1.", unet, $"down_blocks.{i}.attentions.{j}."));
            }
            if (i < levels - 1)
                r.Add(new($"{u}input_blocks.{(i + 1) * perLevel}.0.op.", unet, $"down_blocks.{i}.downsamplers.0.conv."));
        }
        r.Add(new($"{u}middle_block.0.", unet, "mid_block.resnets.0.", UNetResnetSuffixes));
        r.Add(new($"{u}middle_block.1.", unet, "mid_block.attentions.0."));
        r.Add(new($"{u}middle_block.2.", unet, "mid_block.resnets.1.", UNetResnetSuffixes));
        for (int i = 0; i < levels; i++)
        {
            for (int j = 0; j < perLevel; j++)
            {
                int block = i * perLevel + j;
                r.Add(new($"{u}output_blocks.{block}.0.", unet, $"up_blocks.{i}.resnets.{j}.", UNetResnetSuffixes));
                if (c.UpBlockHasAttention[i])
                    r.Add(new($"{u}output_blocks.{block}.1.", unet, $"up_blocks.{i}.attentions.{j}."));
            }
            if (i < levels - 1)
            {
                int upsampler = c.UpBlockHasAttention[i] ? 2 : 1;
                r.Add(new($"{u}output_blocks.{i * perLevel + c.LayersPerBlock}.{upsampler}.conv.", unet, $"up_blocks.{i}.upsamplers.0.conv."));
            }
        }
    }

    private static void AddVae(List<LdmRule> r, VaeConfig c)
    {
        const string v = "first_stage_model.";
        var vae = ModelPart.Vae;
        int levels = c.BlockOutChannels.Length;
        r.Add(new($"{v}quant_conv.", vae, "quant_conv."));
        r.Add(new($"{v}post_quant_conv.", vae, "post_quant_conv."));
        foreach (var coder in new[] { "encoder", "decoder" })
        {
            r.Add(new($"{v}{coder}.conv_in.", vae, $"{coder}.conv_in."));
            r.Add(new($"{v}{coder}.conv_out.", vae, $"{coder}.conv_out."));
            r.Add(new($"{v}{coder}.norm_out.", vae, $"{coder}.conv_norm_out."));
            r.Add(new($"{v}{coder}.mid.block_1.", vae, $"{coder}.mid_block.resnets.0.", VaeResnetSuffixes));
            r.Add(new($"{v}{coder}.mid.attn_1.", vae, $"{coder}.mid_block.attentions.0.", VaeAttentionSuffixes, SqueezeConvToLinear: true));
            r.Add(new($"{v}{coder}.mid.block_2.", vae, $"{coder}.mid_block.resnets.1.", VaeResnetSuffixes));
        }
        for (int i = 0; i < levels; i++)
        {
            for (int j = 0; j < c.LayersPerBlock; j++)
                r.Add(new($"{v}encoder.down.{i}.block.{j}.", vae, $"encoder.down_blocks.{i}.resnets.{j}.", VaeResnetSuffixes));
            if (i < levels - 1)
                r.Add(new($"{v}encoder.down.{i}.downsample.conv.", vae, $"encoder.down_blocks.{i}.downsamplers.0.conv."));
        }
        for (int i = 0; i < levels; i++)
        {
            int ldmLevel = levels - 1 - i;
            for (int j = 0; j < c.LayersPerBlock + 1; j++)
                r.Add(new($"{v}decoder.up.{ldmLevel}.block.{j}.", vae, $"decoder.up_blocks.{i}.resnets.{j}.", VaeResnetSuffixes));
            if (i < levels - 1)
                r.Add(new($"{v}decoder.up.{ldmLevel}.upsample.conv.", vae, $"decoder.up_blocks.{i}.upsamplers.0.conv."));
        }
    }

    /// <summary>The part an LDM name belongs to by prefix, or null for keys outside the SD v1 parts.</summary>
    public static ModelPart? PartOf(string ldmName)
    {
        foreach (var (prefix, part) in PartPrefixes)
            if (ldmName.StartsWith(prefix, StringComparison.Ordinal)) return part;
        return null;
    }

    /// <summary>Every (rule, diffusers name) that maps <paramref name="ldmName"/>; exactly one for a parameter.</summary>
    public List<(LdmRule Rule, string DiffusersName)> Matches(string ldmName)
    {
        var matches = new List<(LdmRule, string)>();
        for (int dot = ldmName.IndexOf('.'); dot >= 0; dot = ldmName.IndexOf('.', dot + 1))
        {
            if (!_byPrefix.TryGetValue(ldmName[..(dot + 1)], out var rules)) continue;
            string remainder = ldmName[(dot + 1)..];
            foreach (var rule in rules)
            {
                if (rule.Suffixes is null)
                {
                    if (remainder.Length > 0) matches.Add((rule, rule.DiffusersPrefix + remainder));
                    continue;
                }
                foreach (var (from, to) in rule.Suffixes)
                    if (remainder.StartsWith(from, StringComparison.Ordinal) && remainder.Length > from.Length)
                        matches.Add((rule, rule.DiffusersPrefix + to + remainder[from.Length..]));
            }
        }
        return matches;
    }

    /// <summary>The single mapping of <paramref name="ldmName"/>, or null when no rule covers it.</summary>
    public (LdmRule Rule, string DiffusersName)? Map(string ldmName)
    {
        var matches = Matches(ldmName);
        if (matches.Count > 1)
            throw new InvalidOperationException($"LDM name table is ambiguous for '{ldmName}': {string.Join(", ", matches.Select(m => m.DiffusersName))}");
        return matches.Count == 1 ? matches[0] : null;
    }

    /// <summary>The diffusers shape of an LDM tensor under <paramref name="rule"/> (1x1 conv -> linear where marked).</summary>
    public static int[] DiffusersShape(LdmRule rule, string diffusersName, int[] ldmShape)
    {
        if (!rule.SqueezeConvToLinear) return ldmShape;
        int keepRank = diffusersName.EndsWith(".weight", StringComparison.Ordinal) ? 2 : 1;
        int rank = ldmShape.Length;
        while (rank > keepRank && ldmShape[rank - 1] == 1) rank--;
        return ldmShape[..rank];
    }
}
