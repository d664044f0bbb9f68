using IIP.TestSupport.References;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Models;
using IIP.Engine.Models.Unet;
using Xunit.Abstractions;

namespace IIP.Engine.Tests.Models;

/// <summary>
/// Single modules of <see cref="SmallSdModel"/>'s UNet against double-precision references written from the formulas,
/// on non-square inputs: multi-head attention (4 heads), ResnetBlock2D, BasicTransformerBlock, Transformer2DModel.
/// </summary>
/// <remarks>
/// Tolerance <see cref="Tolerance"/> = 3e-6 x max |ref|: one module rounds a few fp32 dot products of up to 1440 terms
/// (9 x 160 channels) and a softmax; measured 2e-7 .. 5e-7 on these inputs, so 3e-6 leaves room for a GEMM that
/// sums in another order while a wrong formula (head split, group count, missing bias) is off by 1e-2 or more.
/// </remarks>
public sealed class ModuleReferenceTests(ITestOutputHelper output)
{
    private const double Tolerance = 3e-6;

    private static RefWeights UnetWeights(string module) => new(SmallSdLoaded.Checkpoint.UnetWeights, module + ".");

    [Theory]
    [InlineData(0, 32)]   // head size 8, 96 tokens (8x12)
    [InlineData(1, 64)]   // head size 16, 24 tokens (4x6)
    public void AttentionWithFourHeadsMatchesTheDoubleReferenceAndTheHeadCountMatters(int level, int channels)
    {
        int tokens = (SmallSdModel.LatentHeight >> level) * (SmallSdModel.LatentWidth >> level);
        var block = SmallSdLoaded.Unet.DownBlocks[level].Attentions![0].Blocks[0];
        string prefix = $"down_blocks.{level}.attentions.0.transformer_blocks.0";
        var x = SmallSdModel.RandomTensor(seed: 40 + level, std: 1, 1, tokens, channels);   // [1, T, C]
        var context = SmallSdLoaded.Context(seed: 50 + level);                               // [1, 77, 96]
        Assert.Equal(4, block.Attn1.Heads);

        foreach (var (name, engine, ctx) in new[] { ("attn1", block.Attn1, (Tokens?)null), ("attn2", block.Attn2, Tokens.From(context)) })
        {
            var y = engine.Forward(x, ctx is null ? null : context);
            var reference = ReferenceLayers.Attention(Tokens.From(x), ctx, UnetWeights($"{prefix}.{name}"), heads: 4);
            double measured = Closeness.AssertClose($"{prefix}.{name}", y, reference.V, reference.Shape, Tolerance);
            // The same weights split into 1 or 2 heads give another function: the comparison above could see a wrong head count.
            foreach (int heads in new[] { 1, 2 })
            {
                var wrong = ReferenceLayers.Attention(Tokens.From(x), ctx, UnetWeights($"{prefix}.{name}"), heads);
                double apart = Closeness.RelativeDifference(y, wrong.V);
                Assert.True(apart > 1e-2, $"{prefix}.{name}: {heads}-head reference is only {apart:G3} from the 4-head engine output");
            }
            output.WriteLine($"{prefix}.{name}: {measured:G3}");
        }
    }

    [Theory]
    [InlineData("down_blocks.1.resnets.0", 32, 1)]   // 32 -> 64 with a 1x1 shortcut, 4x6
    [InlineData("up_blocks.1.resnets.0", 160, 1)]    // concat(96, 64) -> 64, 4x6
    [InlineData("mid_block.resnets.0", 96, 2)]       // 96 -> 96, identity shortcut, 2x3
    public void ResnetBlock2DMatchesTheDoubleReference(string module, int inChannels, int level)
    {
        var config = SmallSdModel.Unet;
        var resnet = new ResnetBlock2D(new ModuleWeights(SmallSdLoaded.Checkpoint.UnetWeights, CpuBackend.Instance).Sub(module), config.NormGroups, config.NormEps);
        var x = SmallSdModel.RandomTensor(seed: 60, std: 1, 2, inChannels, SmallSdModel.LatentHeight >> level, SmallSdModel.LatentWidth >> level);
        var siluTemb = SmallSdModel.RandomTensor(seed: 61, std: 1, 2, 4 * config.BlockOutChannels[0]);   // [2, 128]
        var y = resnet.Forward(x, siluTemb);
        var reference = ReferenceLayers.Resnet(Maps.From(x), siluTemb.Data.Select(v => (double)v).ToArray(), UnetWeights(module), config.NormGroups, config.NormEps);
        double measured = Closeness.AssertClose(module, y, reference.V, reference.Shape, Tolerance);
        output.WriteLine($"{module}: {measured:G3}");
    }

    [Fact]
    public void BasicTransformerBlockMatchesTheDoubleReference()
    {
        const string module = "down_blocks.1.attentions.0.transformer_blocks.0";
        var block = SmallSdLoaded.Unet.DownBlocks[1].Attentions![0].Blocks[0];
        var x = SmallSdModel.RandomTensor(seed: 70, std: 1, 2, 24, 64);     // [2, 4x6 tokens, 64]
        var context = SmallSdLoaded.Context(seed: 71, n: 2);                 // [2, 77, 96]
        var y = block.Forward(x, context);
        var reference = ReferenceLayers.BasicTransformerBlock(Tokens.From(x), Tokens.From(context), UnetWeights(module), heads: 4);
        double measured = Closeness.AssertClose(module, y, reference.V, reference.Shape, Tolerance);
        output.WriteLine($"{module}: {measured:G3}");
    }

    [Fact]
    public void Transformer2DModelOnANonSquareMapMatchesTheDoubleReference()
    {
        const string module = "down_blocks.0.attentions.0";
        var transformer = SmallSdLoaded.Unet.DownBlocks[0].Attentions![0];
        var x = SmallSdModel.RandomTensor(seed: 80, std: 1, 1, 32, SmallSdModel.LatentHeight, SmallSdModel.LatentWidth); // [1, 32, 8, 12]
        var context = SmallSdLoaded.Context(seed: 81);
        var y = transformer.Forward(x, context);
        var reference = ReferenceLayers.Transformer2D(Maps.From(x), Tokens.From(context), UnetWeights(module), heads: 4, SmallSdModel.Unet.NormGroups);
        double measured = Closeness.AssertClose(module, y, reference.V, reference.Shape, Tolerance);
        output.WriteLine($"{module}: {measured:G3}");
    }
}
