using IIP.Engine.Configs;
using System.Text.RegularExpressions;

namespace IIP.Engine.Weights;

/// <summary>
/// Infers the configs of a single-file LDM checkpoint (SD v1 or 2.x) from its tensor names and shapes alone.
/// What the weights cannot tell takes the SD v1 value: 8 UNet heads, CLIP head size 64 (heads = width / 64),
/// GroupNorm 32 groups (eps 1e-5 UNet, 1e-6 VAE), quick_gelu, VAE scaling factor 0.18215, and the sample
/// sizes 64 (latent) / 512 (image), which are properties of training, not of the weights. An SD 2.x checkpoint
/// (2-D proj_in weights: linear projections; an OpenCLIP text encoder, <see cref="OpenClipTextKeys"/>) takes SD 2.x's:
/// head size 64 at every UNet level (heads = width / 64: 5, 10, 20, 20), exact GELU in the text encoder, and all but
/// the last of the checkpoint's text blocks. Whether the UNet predicts the noise or v is not in the weights at all.
/// </summary>
public static partial class LdmConfigInference
{
    private const string U = "model.diffusion_model.";
    private const string V = "first_stage_model.";
    private const int ClipHeadSize = 64;
    private const int Sd2UNetHeadSize = 64;

    public static UNetConfig InferUNet(string origin, IReadOnlyDictionary<string, int[]> shapes)
    {
        var inputBlocks = Indices(shapes.Keys, InputBlockPattern());
        if (inputBlocks.Count == 0)
            throw new WeightException($"{origin}: no {U}input_blocks.* tensors; not an SD v1 LDM checkpoint");
        var downsamplers = Indices(shapes.Keys, DownsampleOpPattern());
        int maxInput = inputBlocks.Max();
        // input_blocks: 0 is conv_in, then per level L resnets (+ attentions) and, except the last level, one downsampler.
        int perLevel = downsamplers.Count > 0 ? downsamplers.Min() : maxInput + 1;
        int layers = perLevel - 1;
        int levels = (maxInput + 1) / perLevel;
        if (layers < 1 || levels * perLevel != maxInput + 1)
            throw new WeightException($"{origin}: cannot infer the UNet layout: input_blocks 0..{maxInput} with downsamplers at [{string.Join(", ", downsamplers.Order())}]");

        var channels = new int[levels];
        var downAttention = new bool[levels];
        var upAttention = new bool[levels];
        for (int i = 0; i < levels; i++)
        {
            int block = 1 + i * perLevel;
            channels[i] = Require(origin, shapes, $"{U}input_blocks.{block}.0.out_layers.3.weight")[0];
            downAttention[i] = shapes.ContainsKey($"{U}input_blocks.{block}.1.proj_in.weight");
            upAttention[i] = shapes.ContainsKey($"{U}output_blocks.{i * perLevel}.1.proj_in.weight");
        }

        var crossKey = shapes.Keys.Where(k => k.StartsWith(U, StringComparison.Ordinal) && k.EndsWith(".attn2.to_k.weight", StringComparison.Ordinal)).Order(StringComparer.Ordinal).FirstOrDefault();
        var transformerLayers = Indices(shapes.Keys, MidTransformerBlockPattern());
        var convIn = Require(origin, shapes, $"{U}input_blocks.0.0.weight");
        var d = UNetConfig.StableDiffusionV14;
        // SD 2.x stores proj_in as a Linear weight [C, C]; SD v1 as a 1x1 convolution [C, C, 1, 1]
        bool linear = shapes.TryGetValue($"{U}middle_block.1.proj_in.weight", out var projIn) && projIn.Length == 2;
        var heads = linear
            ? channels.Select(c => c % Sd2UNetHeadSize == 0 ? c / Sd2UNetHeadSize
                : throw new WeightException($"{origin}: UNet width {c} is not a multiple of SD 2.x's head size {Sd2UNetHeadSize}; give the configs (--model-config)")).ToArray()
            : Enumerable.Repeat(d.Heads[0], levels).ToArray();
        return d with
        {
            Heads = heads,
            UseLinearProjection = linear,
            InChannels = convIn[1],
            OutChannels = Require(origin, shapes, $"{U}out.2.weight")[0],
            BlockOutChannels = channels,
            DownBlockHasAttention = downAttention,
            UpBlockHasAttention = upAttention,
            LayersPerBlock = layers,
            CrossAttentionDim = crossKey is null ? d.CrossAttentionDim : shapes[crossKey][1],
            TransformerLayersPerBlock = transformerLayers.Count > 0 ? transformerLayers.Max() + 1 : d.TransformerLayersPerBlock,
        };
    }

    public static VaeConfig InferVae(string origin, IReadOnlyDictionary<string, int[]> shapes)
    {
        var levels = Indices(shapes.Keys, EncoderLevelPattern());
        var layers = Indices(shapes.Keys, EncoderLevel0BlockPattern());
        if (levels.Count == 0 || layers.Count == 0)
            throw new WeightException($"{origin}: no {V}encoder.down.* tensors; not an SD v1 LDM checkpoint");
        int levelCount = levels.Max() + 1;
        var channels = new int[levelCount];
        for (int i = 0; i < levelCount; i++)
            channels[i] = Require(origin, shapes, $"{V}encoder.down.{i}.block.0.conv1.weight")[0];
        return VaeConfig.StableDiffusionV14 with
        {
            InChannels = Require(origin, shapes, $"{V}encoder.conv_in.weight")[1],
            OutChannels = Require(origin, shapes, $"{V}decoder.conv_out.weight")[0],
            BlockOutChannels = channels,
            LayersPerBlock = layers.Max() + 1,
            LatentChannels = Require(origin, shapes, $"{V}post_quant_conv.weight")[0],
        };
    }

    public static TextEncoderConfig InferTextEncoder(string origin, IReadOnlyDictionary<string, int[]> shapes)
    {
        if (OpenClipTextKeys.IsOpenClip(shapes.Keys)) return InferOpenClipTextEncoder(origin, shapes);
        // Both the transformers >= 4 layout (transformer.text_model.*) and the older one (transformer.*).
        string prefix = shapes.Keys.Any(k => k.StartsWith("cond_stage_model.transformer.text_model.", StringComparison.Ordinal))
            ? "cond_stage_model.transformer.text_model." : "cond_stage_model.transformer.";
        var token = Require(origin, shapes, $"{prefix}embeddings.token_embedding.weight");
        var layers = Indices(shapes.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k[prefix.Length..]), TextLayerPattern());
        if (layers.Count == 0)
            throw new WeightException($"{origin}: no {prefix}encoder.layers.* tensors; not an SD v1 LDM checkpoint");
        int width = token[1];
        if (width % ClipHeadSize != 0)
            throw new WeightException($"{origin}: CLIP width {width} is not a multiple of the head size {ClipHeadSize}");
        return TextEncoderConfig.StableDiffusionV14 with
        {
            VocabSize = token[0],
            HiddenSize = width,
            IntermediateSize = Require(origin, shapes, $"{prefix}encoder.layers.0.mlp.fc1.weight")[0],
            Layers = layers.Max() + 1,
            Heads = width / ClipHeadSize,
            MaxPositions = Require(origin, shapes, $"{prefix}embeddings.position_embedding.weight")[0],
        };
    }

    // SD 2.x: OpenCLIP ViT-H's text transformer, of which the model uses every block but the last
    private static TextEncoderConfig InferOpenClipTextEncoder(string origin, IReadOnlyDictionary<string, int[]> shapes)
    {
        const string P = OpenClipTextKeys.Prefix;
        var token = Require(origin, shapes, $"{P}token_embedding.weight");
        int stored = OpenClipTextKeys.StoredBlocks(shapes.Keys.Where(k => k.StartsWith(P, StringComparison.Ordinal)).Select(k => k[P.Length..]));
        if (stored < 2)
            throw new WeightException($"{origin}: {stored} {P}transformer.resblocks.*; SD 2.x uses all but the last, so at least 2 are needed");
        int width = token[1];
        if (width % ClipHeadSize != 0)
            throw new WeightException($"{origin}: text encoder width {width} is not a multiple of the head size {ClipHeadSize}; give the configs (--model-config)");
        return TextEncoderConfig.StableDiffusionV14 with
        {
            VocabSize = token[0],
            HiddenSize = width,
            IntermediateSize = Require(origin, shapes, $"{P}transformer.resblocks.0.mlp.c_fc.weight")[0],
            Layers = stored - 1,
            Heads = width / ClipHeadSize,
            MaxPositions = Require(origin, shapes, $"{P}positional_embedding")[0],
            HiddenAct = "gelu",
        };
    }

    private static int[] Require(string origin, IReadOnlyDictionary<string, int[]> shapes, string name) =>
        shapes.TryGetValue(name, out var shape) && shape.Length >= 1
            ? shape
            : throw new WeightException($"{origin}: tensor '{name}' is missing; cannot infer the model configuration");

    private static HashSet<int> Indices(IEnumerable<string> names, Regex pattern)
    {
        var result = new HashSet<int>();
        foreach (var name in names)
        {
            var match = pattern.Match(name);
            if (match.Success) result.Add(int.Parse(match.Groups[1].ValueSpan, provider: System.Globalization.CultureInfo.InvariantCulture));
        }
        return result;
    }

    [GeneratedRegex(@"^model\.diffusion_model\.input_blocks\.(\d+)\.")]
    private static partial Regex InputBlockPattern();

    [GeneratedRegex(@"^model\.diffusion_model\.input_blocks\.(\d+)\.0\.op\.weight$")]
    private static partial Regex DownsampleOpPattern();

    [GeneratedRegex(@"^model\.diffusion_model\.middle_block\.1\.transformer_blocks\.(\d+)\.")]
    private static partial Regex MidTransformerBlockPattern();

    [GeneratedRegex(@"^first_stage_model\.encoder\.down\.(\d+)\.")]
    private static partial Regex EncoderLevelPattern();

    [GeneratedRegex(@"^first_stage_model\.encoder\.down\.0\.block\.(\d+)\.")]
    private static partial Regex EncoderLevel0BlockPattern();

    [GeneratedRegex(@"^encoder\.layers\.(\d+)\.")]
    private static partial Regex TextLayerPattern();
}
