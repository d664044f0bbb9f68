using IIP.Engine.Configs;
using IIP.Engine.Weights;
using static IIP.TestSupport.References.ReferenceLayers;

namespace IIP.TestSupport.References;

/// <summary>
/// diffusers UNet2DConditionModel (SD v1 blocks) in double precision, read straight from the weights and the config:
/// temb = linear_2(silu(linear_1(sinusoid(t)))); conv_in; down blocks push every layer's and downsampler's output as a
/// skip; mid (resnet, transformer, resnet); up blocks pop one skip per resnet (layers + 1 of them), concatenated after
/// h on channels, then nearest-2x + conv; GroupNorm + SiLU; conv_out.
/// </summary>
internal static class ReferenceUnet
{
    // x [N, Cin, H, W], one timestep per item, ctx [N, S, Cctx] -> eps [N, Cout, H, W]
    public static Maps Forward(IWeightSource weights, UNetConfig c, Maps x, float[] timesteps, Tokens context)
    {
        var w = new RefWeights(weights);
        int groups = c.NormGroups;
        double eps = c.NormEps;
        var features = Sinusoid(timesteps, c.BlockOutChannels[0], c.FlipSinToCos, c.FreqShift);          // [N, C0]
        var temb = Linear(Silu(Linear(features, x.N, w.Sub("time_embedding.linear_1"))), x.N, w.Sub("time_embedding.linear_2")); // [N, 4 C0]
        var siluTemb = Silu(temb);

        var h = Conv(x, w.Sub("conv_in"));
        var skips = new Stack<Maps>();
        skips.Push(h);
        for (int i = 0; i < c.BlockOutChannels.Length; i++)
        {
            var block = w.Sub($"down_blocks.{i}");
            for (int j = 0; j < c.LayersPerBlock; j++)
            {
                h = Resnet(h, siluTemb, block.Sub($"resnets.{j}"), groups, eps);
                if (c.DownBlockHasAttention[i]) h = Transformer2D(h, context, block.Sub($"attentions.{j}"), c.Heads[i], groups);
                skips.Push(h);
            }
            if (i < c.BlockOutChannels.Length - 1)
            {
                h = Conv(h, block.Sub("downsamplers.0.conv"), stride: 2, 1, 1, 1, 1);   // Downsample2D, padding 1
                skips.Push(h);
            }
        }

        h = Resnet(h, siluTemb, w.Sub("mid_block.resnets.0"), groups, eps);
        h = Transformer2D(h, context, w.Sub("mid_block.attentions.0"), c.Heads[^1], groups);
        h = Resnet(h, siluTemb, w.Sub("mid_block.resnets.1"), groups, eps);

        for (int i = 0; i < c.BlockOutChannels.Length; i++)
        {
            var block = w.Sub($"up_blocks.{i}");
            for (int j = 0; j < c.LayersPerBlock + 1; j++)
            {
                h = Resnet(ConcatChannels(h, skips.Pop()), siluTemb, block.Sub($"resnets.{j}"), groups, eps);
                if (c.UpBlockHasAttention[i]) h = Transformer2D(h, context, block.Sub($"attentions.{j}"), c.Heads[^(i + 1)], groups);
            }
            if (i < c.BlockOutChannels.Length - 1)
            {
                // Upsample2D: nearest to the next skip's size (2x, or interpolate to an odd size: diffusers' forward_upsample_size), 3x3 conv
                var next = skips.Peek();
                h = Conv(next.H == 2 * h.H && next.W == 2 * h.W ? UpsampleNearest2x(h) : UpsampleNearestTo(h, next.H, next.W), block.Sub("upsamplers.0.conv"));
            }
        }
        if (skips.Count != 0) throw new InvalidOperationException($"reference UNet left {skips.Count} skips unused");
        return Conv(GroupNorm(h, w.Sub("conv_norm_out"), groups, eps, silu: true), w.Sub("conv_out"));
    }

    /// <summary>
    /// diffusers get_timestep_embedding: f_i = exp(-ln(10000) i / (half - shift)), emb = [sin(t f), cos(t f)] ([cos, sin] when
    /// flipped). diffusers forms the exponent, f and t f in float32, so this does too (an argument of ~1000 rounded in
    /// float32 moves sin by up to 3e-5, far more than the tolerance); sin and cos are then taken in double. -> [N, dim]
    /// </summary>
    public static double[] Sinusoid(float[] timesteps, int dim, bool flipSinToCos, float shift)
    {
        int half = dim / 2;
        var y = new double[timesteps.Length * dim];
        for (int n = 0; n < timesteps.Length; n++)
            for (int i = 0; i < half; i++)
            {
                float exponent = (float)-Math.Log(10000) * i / (half - shift);
                float argument = timesteps[n] * MathF.Exp(exponent);
                double sin = Math.Sin(argument), cos = Math.Cos(argument);
                y[n * dim + i] = flipSinToCos ? cos : sin;
                y[n * dim + half + i] = flipSinToCos ? sin : cos;
            }
        return y;
    }
}
