using IIP.Engine.Configs;
using IIP.Engine.Tensors;

namespace IIP.Engine.Weights;

/// <summary>One expected parameter: diffusers name (without the part prefix) and shape.</summary>
public sealed record ParameterShape(string Name, int[] Shape)
{
    public long ElementCount => Tensor.ElementCount(Shape);
}

/// <summary>
/// Every parameter (name and shape) that the diffusers SD v1 and v2 modules hold for a config: UNet2DConditionModel
/// with CrossAttn/plain down and up blocks, AutoencoderKL, and transformers' CLIPTextModel. The channel
/// bookkeeping follows the diffusers constructors (up block j=0 takes the previous level's output,
/// the skip of the last resnet comes from the next-shallower level; decoder levels hold layers+1 resnets).
/// </summary>
public static class SdParameterShapes
{
    public static IReadOnlyList<ParameterShape> For(ModelPart part, UNetConfig unet, VaeConfig vae, TextEncoderConfig textEncoder) => part switch
    {
        ModelPart.Unet => Unet(unet),
        ModelPart.Vae => Vae(vae),
        ModelPart.TextEncoder => TextEncoder(textEncoder),
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    };

    public static IReadOnlyList<ParameterShape> Unet(UNetConfig c)
    {
        var p = new List<ParameterShape>();
        int[] ch = c.BlockOutChannels;
        int levels = ch.Length;
        int timeDim = 4 * ch[0]; // TimestepEmbedding: sinusoidal block_out_channels[0] -> 4x -> 4x
        Conv(p, "conv_in", ch[0], c.InChannels, 3);
        Linear(p, "time_embedding.linear_1", timeDim, ch[0]);
        Linear(p, "time_embedding.linear_2", timeDim, timeDim);

        for (int i = 0; i < levels; i++)
        {
            int input = i == 0 ? ch[0] : ch[i - 1], output = ch[i];
            for (int j = 0; j < c.LayersPerBlock; j++)
            {
                UNetResnet(p, $"down_blocks.{i}.resnets.{j}", j == 0 ? input : output, output, timeDim);
                if (c.DownBlockHasAttention[i])
                    Transformer(p, $"down_blocks.{i}.attentions.{j}", output, c.CrossAttentionDim, c.TransformerLayersPerBlock, c.UseLinearProjection);
            }
            if (i < levels - 1)
                Conv(p, $"down_blocks.{i}.downsamplers.0.conv", output, output, 3);
        }

        int deepest = ch[^1];
        UNetResnet(p, "mid_block.resnets.0", deepest, deepest, timeDim);
        Transformer(p, "mid_block.attentions.0", deepest, c.CrossAttentionDim, c.TransformerLayersPerBlock, c.UseLinearProjection);
        UNetResnet(p, "mid_block.resnets.1", deepest, deepest, timeDim);

        var reversed = ch.Reverse().ToArray();
        for (int i = 0; i < levels; i++)
        {
            int previous = reversed[Math.Max(i - 1, 0)], output = reversed[i];
            int skipFromShallower = reversed[Math.Min(i + 1, levels - 1)];
            int resnets = c.LayersPerBlock + 1;
            for (int j = 0; j < resnets; j++)
            {
                int residual = j == 0 ? previous : output;
                int skip = j == resnets - 1 ? skipFromShallower : output;
                UNetResnet(p, $"up_blocks.{i}.resnets.{j}", residual + skip, output, timeDim);
                if (c.UpBlockHasAttention[i])
                    Transformer(p, $"up_blocks.{i}.attentions.{j}", output, c.CrossAttentionDim, c.TransformerLayersPerBlock, c.UseLinearProjection);
            }
            if (i < levels - 1)
                Conv(p, $"up_blocks.{i}.upsamplers.0.conv", output, output, 3);
        }

        Norm(p, "conv_norm_out", ch[0]);
        Conv(p, "conv_out", c.OutChannels, ch[0], 3);
        return p;
    }

    public static IReadOnlyList<ParameterShape> Vae(VaeConfig c)
    {
        var p = new List<ParameterShape>();
        int[] ch = c.BlockOutChannels;
        int levels = ch.Length, deepest = ch[^1];

        Conv(p, "encoder.conv_in", ch[0], c.InChannels, 3);
        for (int i = 0; i < levels; i++)
        {
            int input = i == 0 ? ch[0] : ch[i - 1], output = ch[i];
            for (int j = 0; j < c.LayersPerBlock; j++)
                VaeResnet(p, $"encoder.down_blocks.{i}.resnets.{j}", j == 0 ? input : output, output);
            if (i < levels - 1)
                Conv(p, $"encoder.down_blocks.{i}.downsamplers.0.conv", output, output, 3);
        }
        VaeMidBlock(p, "encoder.mid_block", deepest);
        Norm(p, "encoder.conv_norm_out", deepest);
        Conv(p, "encoder.conv_out", 2 * c.LatentChannels, deepest, 3); // mean and log-variance

        Conv(p, "quant_conv", 2 * c.LatentChannels, 2 * c.LatentChannels, 1);
        Conv(p, "post_quant_conv", c.LatentChannels, c.LatentChannels, 1);

        Conv(p, "decoder.conv_in", deepest, c.LatentChannels, 3);
        VaeMidBlock(p, "decoder.mid_block", deepest);
        var reversed = ch.Reverse().ToArray();
        for (int i = 0; i < levels; i++)
        {
            int previous = reversed[Math.Max(i - 1, 0)], output = reversed[i];
            for (int j = 0; j < c.LayersPerBlock + 1; j++)
                VaeResnet(p, $"decoder.up_blocks.{i}.resnets.{j}", j == 0 ? previous : output, output);
            if (i < levels - 1)
                Conv(p, $"decoder.up_blocks.{i}.upsamplers.0.conv", output, output, 3);
        }
        Norm(p, "decoder.conv_norm_out", ch[0]);
        Conv(p, "decoder.conv_out", c.OutChannels, ch[0], 3);
        return p;
    }

    public static IReadOnlyList<ParameterShape> TextEncoder(TextEncoderConfig c)
    {
        var p = new List<ParameterShape>();
        int d = c.HiddenSize;
        p.Add(new("text_model.embeddings.token_embedding.weight", [c.VocabSize, d]));
        p.Add(new("text_model.embeddings.position_embedding.weight", [c.MaxPositions, d]));
        for (int l = 0; l < c.Layers; l++)
        {
            string layer = $"text_model.encoder.layers.{l}";
            foreach (var projection in new[] { "q_proj", "k_proj", "v_proj", "out_proj" })
                Linear(p, $"{layer}.self_attn.{projection}", d, d);
            Norm(p, $"{layer}.layer_norm1", d);
            Linear(p, $"{layer}.mlp.fc1", c.IntermediateSize, d);
            Linear(p, $"{layer}.mlp.fc2", d, c.IntermediateSize);
            Norm(p, $"{layer}.layer_norm2", d);
        }
        Norm(p, "text_model.final_layer_norm", d);
        return p;
    }

    /// <summary>Total number of scalar parameters.</summary>
    public static long Count(IEnumerable<ParameterShape> parameters) => parameters.Sum(p => p.ElementCount);

    // ResnetBlock2D with a time embedding: GroupNorm-SiLU-conv3x3, + Linear(time), GroupNorm-SiLU-conv3x3, 1x1 shortcut when in != out.
    private static void UNetResnet(List<ParameterShape> p, string prefix, int input, int output, int timeDim)
    {
        Norm(p, $"{prefix}.norm1", input);
        Conv(p, $"{prefix}.conv1", output, input, 3);
        Linear(p, $"{prefix}.time_emb_proj", output, timeDim);
        Norm(p, $"{prefix}.norm2", output);
        Conv(p, $"{prefix}.conv2", output, output, 3);
        if (input != output) Conv(p, $"{prefix}.conv_shortcut", output, input, 1);
    }

    private static void VaeResnet(List<ParameterShape> p, string prefix, int input, int output)
    {
        Norm(p, $"{prefix}.norm1", input);
        Conv(p, $"{prefix}.conv1", output, input, 3);
        Norm(p, $"{prefix}.norm2", output);
        Conv(p, $"{prefix}.conv2", output, output, 3);
        if (input != output) Conv(p, $"{prefix}.conv_shortcut", output, input, 1);
    }

    // UNetMidBlock2D of the VAE: resnet, single-head self-attention (GroupNorm, q/k/v/out linears), resnet.
    private static void VaeMidBlock(List<ParameterShape> p, string prefix, int channels)
    {
        VaeResnet(p, $"{prefix}.resnets.0", channels, channels);
        Norm(p, $"{prefix}.attentions.0.group_norm", channels);
        foreach (var projection in new[] { "to_q", "to_k", "to_v", "to_out.0" })
            Linear(p, $"{prefix}.attentions.0.{projection}", channels, channels);
        VaeResnet(p, $"{prefix}.resnets.1", channels, channels);
    }

    // Transformer2DModel: GroupNorm, proj_in, BasicTransformerBlocks (self-attn, cross-attn, GEGLU ff), proj_out; the
    // projections 1x1 convolutions (SD v1) or Linear layers (use_linear_projection, SD 2.x).
    private static void Transformer(List<ParameterShape> p, string prefix, int channels, int crossDim, int layers, bool linearProjection)
    {
        Norm(p, $"{prefix}.norm", channels);
        Projection(p, $"{prefix}.proj_in", channels, linearProjection);
        for (int b = 0; b < layers; b++)
        {
            string block = $"{prefix}.transformer_blocks.{b}";
            Attention(p, $"{block}.attn1", channels, channels);
            Attention(p, $"{block}.attn2", channels, crossDim);
            Linear(p, $"{block}.ff.net.0.proj", 8 * channels, channels); // GEGLU: value and gate, 4C each
            Linear(p, $"{block}.ff.net.2", channels, 4 * channels);
            Norm(p, $"{block}.norm1", channels);
            Norm(p, $"{block}.norm2", channels);
            Norm(p, $"{block}.norm3", channels);
        }
        Projection(p, $"{prefix}.proj_out", channels, linearProjection);
    }

    private static void Projection(List<ParameterShape> p, string prefix, int channels, bool linear)
    {
        if (linear) Linear(p, prefix, channels, channels);
        else Conv(p, prefix, channels, channels, 1);
    }

    // Attention: q/k/v without bias, output projection with bias.
    private static void Attention(List<ParameterShape> p, string prefix, int channels, int contextDim)
    {
        p.Add(new($"{prefix}.to_q.weight", [channels, channels]));
        p.Add(new($"{prefix}.to_k.weight", [channels, contextDim]));
        p.Add(new($"{prefix}.to_v.weight", [channels, contextDim]));
        Linear(p, $"{prefix}.to_out.0", channels, channels);
    }

    private static void Conv(List<ParameterShape> p, string prefix, int output, int input, int kernel)
    {
        p.Add(new($"{prefix}.weight", [output, input, kernel, kernel]));
        p.Add(new($"{prefix}.bias", [output]));
    }

    private static void Linear(List<ParameterShape> p, string prefix, int output, int input)
    {
        p.Add(new($"{prefix}.weight", [output, input]));
        p.Add(new($"{prefix}.bias", [output]));
    }

    private static void Norm(List<ParameterShape> p, string prefix, int channels)
    {
        p.Add(new($"{prefix}.weight", [channels]));
        p.Add(new($"{prefix}.bias", [channels]));
    }
}
