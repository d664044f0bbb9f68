using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

/// <summary>
/// OpenCLIP's text transformer (SD 2.x single files) under CLIPTextModel names, as diffusers' convert_open_clip_checkpoint
/// maps it: the fused projection split by rows into q, k, v; the last block and CLIP's image-text head not parameters.
/// </summary>
public class OpenClipTextKeysTests
{
    private const string P = OpenClipTextKeys.Prefix;

    [Fact]
    public void TheFusedProjectionIsSplitIntoQueryKeyAndValueByRows()
    {
        Assert.Equal(
            [("text_model.encoder.layers.1.self_attn.q_proj.weight", 0), ("text_model.encoder.layers.1.self_attn.k_proj.weight", 1), ("text_model.encoder.layers.1.self_attn.v_proj.weight", 2)],
            OpenClipTextKeys.Map($"{P}transformer.resblocks.1.attn.in_proj_weight", usedLayers: 23)!);
        Assert.Equal(
            [("text_model.encoder.layers.0.self_attn.q_proj.bias", 0), ("text_model.encoder.layers.0.self_attn.k_proj.bias", 1), ("text_model.encoder.layers.0.self_attn.v_proj.bias", 2)],
            OpenClipTextKeys.Map($"{P}transformer.resblocks.0.attn.in_proj_bias", usedLayers: 23)!);
    }

    [Theory]
    [InlineData("transformer.resblocks.22.ln_1.weight", "text_model.encoder.layers.22.layer_norm1.weight")]
    [InlineData("transformer.resblocks.3.ln_2.bias", "text_model.encoder.layers.3.layer_norm2.bias")]
    [InlineData("transformer.resblocks.3.attn.out_proj.weight", "text_model.encoder.layers.3.self_attn.out_proj.weight")]
    [InlineData("transformer.resblocks.3.mlp.c_fc.weight", "text_model.encoder.layers.3.mlp.fc1.weight")]
    [InlineData("transformer.resblocks.3.mlp.c_proj.bias", "text_model.encoder.layers.3.mlp.fc2.bias")]
    [InlineData("token_embedding.weight", "text_model.embeddings.token_embedding.weight")]
    [InlineData("positional_embedding", "text_model.embeddings.position_embedding.weight")]
    [InlineData("ln_final.weight", "text_model.final_layer_norm.weight")]
    public void EachTensorHasItsCLIPTextModelName(string openClip, string diffusers) =>
        Assert.Equal([(diffusers, -1)], OpenClipTextKeys.Map(P + openClip, usedLayers: 23)!);

    [Theory]
    [InlineData("transformer.resblocks.23.ln_1.weight")]    // SD 2.x stops at the penultimate block: block 23 of 24 is unused
    [InlineData("transformer.resblocks.23.attn.in_proj_weight")]
    [InlineData("text_projection")]
    [InlineData("logit_scale")]
    public void TheUnusedLastBlockAndTheImageTextHeadAreNotParameters(string openClip) =>
        Assert.Empty(OpenClipTextKeys.Map(P + openClip, usedLayers: 23)!);

    [Fact]
    public void AnUnknownNameIsLeftForValidationToReport()
    {
        Assert.Null(OpenClipTextKeys.Map($"{P}transformer.resblocks.0.attn.in_proj_weights", usedLayers: 23));
        Assert.Null(OpenClipTextKeys.Map($"{P}visual.proj", usedLayers: 23));
        Assert.Null(OpenClipTextKeys.Map("cond_stage_model.transformer.text_model.final_layer_norm.weight", usedLayers: 23));   // SD v1's layout
    }

    [Fact]
    public void TheStoredBlocksAreCountedFromTheHighestIndex() =>
        Assert.Equal(24, OpenClipTextKeys.StoredBlocks(["transformer.resblocks.0.ln_1.weight", "transformer.resblocks.23.mlp.c_fc.bias", "ln_final.bias"]));
}
