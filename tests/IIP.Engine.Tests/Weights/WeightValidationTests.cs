using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

public sealed class WeightValidationTests
{
    private const string VaeFile = "vae/diffusion_pytorch_model.safetensors";

    /// <summary>
    /// A tiny-model folder whose <paramref name="relativeFile"/> is rewritten: <paramref name="edit"/> receives the
    /// original tensor list (name, shape, dtype, fill) and returns the list to write.
    /// </summary>
    private static string WithEditedFile(string tag, string relativeFile, Func<List<SafetensorsTensor>, List<SafetensorsTensor>> edit)
    {
        string dir = TinyModelCopies.Create(tag, p => p == relativeFile ? null : p);
        using var original = SafetensorsFile.Open(Path.Combine(TestPaths.TinySdDiffusers, relativeFile));
        var tensors = original.Header.Names
            .Select(n => new SafetensorsTensor(n, original.Info(n).Shape, WeightDType.F32, d => original.LoadInto(n, d))).ToList();
        SafetensorsWriter.Write(Path.Combine(dir, relativeFile), edit(tensors));
        return dir;
    }

    private static SafetensorsTensor Renamed(SafetensorsTensor t, string name) => t with { Name = name };

    private static WeightException OpenFails(string dir)
    {
        var e = Assert.Throws<WeightException>(() => StableDiffusionCheckpoint.Open(dir));
        Assert.Contains(dir, e.Message);
        return e;
    }

    [Fact]
    public void RemovedTensorIsMissing()
    {
        string dir = WithEditedFile("val-missing", VaeFile, ts => ts.Where(t => t.Name != "decoder.conv_out.bias").ToList());
        var e = OpenFails(dir);
        var problem = Assert.Single(e.Problems);
        Assert.Equal(new WeightProblem(ModelPart.Vae, WeightProblemKind.Missing, "decoder.conv_out.bias", "[3]"), problem);
        Assert.Contains("missing (1): decoder.conv_out.bias [3]", e.Message);
        Assert.Contains(VaeFile, e.Message);
    }

    [Fact]
    public void RenamedTensorIsBothMissingAndUnknown()
    {
        string dir = WithEditedFile("val-renamed", VaeFile,
            ts => ts.Select(t => t.Name == "encoder.conv_in.weight" ? Renamed(t, "encoder.conv_first.weight") : t).ToList());
        var e = OpenFails(dir);
        Assert.Equal(2, e.Problems.Count);
        Assert.Contains(new WeightProblem(ModelPart.Vae, WeightProblemKind.Missing, "encoder.conv_in.weight", "[32, 3, 3, 3]"), e.Problems);
        Assert.Contains(new WeightProblem(ModelPart.Vae, WeightProblemKind.Unknown, "encoder.conv_first.weight", "[32, 3, 3, 3]"), e.Problems);
        Assert.Contains("unknown (1): encoder.conv_first.weight", e.Message);
    }

    [Fact]
    public void ReshapedTensorIsMisshaped()
    {
        // The LDM-style [C, C, 1, 1] attention weight where diffusers expects a [C, C] linear.
        string dir = WithEditedFile("val-shape", VaeFile,
            ts => ts.Select(t => t.Name == "encoder.mid_block.attentions.0.to_q.weight" ? t with { Shape = [64, 64, 1, 1] } : t).ToList());
        var e = OpenFails(dir);
        var problem = Assert.Single(e.Problems);
        Assert.Equal(new WeightProblem(ModelPart.Vae, WeightProblemKind.Misshaped, "encoder.mid_block.attentions.0.to_q.weight", "[64, 64, 1, 1], expected [64, 64]"), problem);
        Assert.Contains("mis-shaped (1)", e.Message);
    }

    [Fact]
    public void IntegerTensorWhereAFloatIsExpectedIsNotFloat()
    {
        string dir = WithEditedFile("val-i64", VaeFile,
            ts => ts.Select(t => t.Name == "quant_conv.bias" ? t with { DType = WeightDType.I64 } : t).ToList());
        var e = OpenFails(dir);
        var problem = Assert.Single(e.Problems);
        Assert.Equal(new WeightProblem(ModelPart.Vae, WeightProblemKind.NotFloat, "quant_conv.bias", "stored as I64"), problem);
        Assert.Contains("not float (1): quant_conv.bias stored as I64", e.Message);
    }

    [Fact]
    public void AllKindsAreReportedTogetherGroupedByKind()
    {
        string dir = WithEditedFile("val-all", VaeFile, ts => ts
            .Where(t => t.Name != "post_quant_conv.weight")
            .Select(t => t.Name switch
            {
                "decoder.conv_in.bias" => Renamed(t, "decoder.conv_in.b"),
                "encoder.conv_out.weight" => t with { Shape = [8, 64, 9] },
                "quant_conv.weight" => t with { DType = WeightDType.I64 },
                _ => t,
            }).ToList());
        var e = OpenFails(dir);
        var byKind = e.Problems.GroupBy(p => p.Kind).ToDictionary(g => g.Key, g => g.Select(p => p.Name).Order().ToArray());
        Assert.Equal(["decoder.conv_in.bias", "post_quant_conv.weight"], byKind[WeightProblemKind.Missing]);
        Assert.Equal(["decoder.conv_in.b"], byKind[WeightProblemKind.Unknown]);
        Assert.Equal(["encoder.conv_out.weight"], byKind[WeightProblemKind.Misshaped]);
        Assert.Equal(["quant_conv.weight"], byKind[WeightProblemKind.NotFloat]);
        int missing = e.Message.IndexOf("missing (2)"), unknown = e.Message.IndexOf("unknown (1)");
        Assert.True(missing > 0 && unknown > missing, e.Message);
    }

    [Fact]
    public void PositionIdsBufferIsIgnoredAndHidden()
    {
        // Older transformers checkpoints store text_model.embeddings.position_ids (I64); it is a buffer, not a parameter.
        string dir = WithEditedFile("val-posids", "text_encoder/model.safetensors", ts =>
            [.. ts, new SafetensorsTensor("text_model.embeddings.position_ids", [1, 77], WeightDType.I64, d => { for (int i = 0; i < d.Length; i++) d[i] = i; })]);
        using var checkpoint = StableDiffusionCheckpoint.Open(dir);
        Assert.Equal(36, checkpoint.TextEncoderWeights.Names.Count);
        Assert.DoesNotContain("text_model.embeddings.position_ids", checkpoint.TextEncoderWeights.Names);
        Assert.Throws<WeightException>(() => checkpoint.TextEncoderWeights.Load("text_model.embeddings.position_ids"));
    }

    [Fact]
    public void ConfigThatDisagreesWithTheWeightsIsReportedPerTensor()
    {
        // unet/config.json claims a cross-attention width of 256 while the weights were trained with 128.
        string dir = TinyModelCopies.Create("val-config", p => p == "unet/config.json" ? null : p);
        string config = File.ReadAllText(Path.Combine(TestPaths.TinySdDiffusers, "unet", "config.json")).Replace("\"cross_attention_dim\": 128", "\"cross_attention_dim\": 256");
        File.WriteAllText(Path.Combine(dir, "unet", "config.json"), config);
        var e = OpenFails(dir);
        Assert.All(e.Problems, p => Assert.Equal((ModelPart.Unet, WeightProblemKind.Misshaped), (p.Part, p.Kind)));
        Assert.Equal(2 * 16, e.Problems.Count); // attn2.to_k and attn2.to_v of the 16 transformer blocks
        Assert.Contains("... and 20 more", e.Message);
    }
}
