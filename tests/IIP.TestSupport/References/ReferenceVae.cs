using IIP.Engine.Configs;
using IIP.Engine.Weights;
using static IIP.TestSupport.References.ReferenceLayers;

namespace IIP.TestSupport.References;

/// <summary>
/// diffusers AutoencoderKL in double precision. Encoder: conv_in; DownEncoderBlock2D per level (resnets, then except
/// at the last level Downsample2D with padding 0: pad right and bottom by 1, 3x3 conv stride 2); mid (resnet, one-head
/// attention with group norm, resnet); GroupNorm + SiLU; conv_out (2 Cz); quant_conv; mean, logvar = chunk(2), logvar
/// clamped to [-30, 20]. Decoder: post_quant_conv; conv_in; mid; UpDecoderBlock2D per level (layers + 1 resnets, then
/// except at the last nearest-2x + conv); GroupNorm + SiLU; conv_out.
/// </summary>
internal static class ReferenceVae
{
    // image [N, 3, H, W] -> (mean, logvar) [N, Cz, H / f, W / f]
    public static (Maps Mean, Maps LogVar) Encode(IWeightSource weights, VaeConfig c, Maps image)
    {
        var w = new RefWeights(weights, "encoder.");
        int groups = c.NormGroups;
        double eps = c.NormEps;
        var h = Conv(image, w.Sub("conv_in"));
        for (int i = 0; i < c.BlockOutChannels.Length; i++)
        {
            for (int j = 0; j < c.LayersPerBlock; j++)
                h = Resnet(h, null, w.Sub($"down_blocks.{i}.resnets.{j}"), groups, eps);
            if (i < c.BlockOutChannels.Length - 1)
                h = Conv(h, w.Sub($"down_blocks.{i}.downsamplers.0.conv"), stride: 2, top: 0, left: 0, bottom: 1, right: 1);
        }
        h = Mid(h, w.Sub("mid_block"), groups, eps);
        h = Conv(GroupNorm(h, w.Sub("conv_norm_out"), groups, eps, silu: true), w.Sub("conv_out"));
        var moments = Conv(h, new RefWeights(weights, "quant_conv."));                       // [N, 2 Cz, h, w]
        int cz = moments.C / 2, plane = moments.H * moments.W;
        var mean = new double[moments.N * cz * plane];
        var logvar = new double[mean.Length];
        for (int n = 0; n < moments.N; n++)
        {
            Array.Copy(moments.V, n * 2 * cz * plane, mean, n * cz * plane, cz * plane);
            Array.Copy(moments.V, (n * 2 + 1) * cz * plane, logvar, n * cz * plane, cz * plane);
        }
        for (int i = 0; i < logvar.Length; i++) logvar[i] = Math.Clamp(logvar[i], -30, 20);
        return (new Maps(mean, moments.N, cz, moments.H, moments.W), new Maps(logvar, moments.N, cz, moments.H, moments.W));
    }

    // z [N, Cz, h, w] (unscaled) -> image [N, 3, h f, w f]
    public static Maps Decode(IWeightSource weights, VaeConfig c, Maps z)
    {
        var w = new RefWeights(weights, "decoder.");
        int groups = c.NormGroups;
        double eps = c.NormEps;
        var h = Conv(Conv(z, new RefWeights(weights, "post_quant_conv.")), w.Sub("conv_in"));
        h = Mid(h, w.Sub("mid_block"), groups, eps);
        for (int i = 0; i < c.BlockOutChannels.Length; i++)
        {
            for (int j = 0; j < c.LayersPerBlock + 1; j++)
                h = Resnet(h, null, w.Sub($"up_blocks.{i}.resnets.{j}"), groups, eps);
            if (i < c.BlockOutChannels.Length - 1)
                h = Conv(UpsampleNearest2x(h), w.Sub($"up_blocks.{i}.upsamplers.0.conv"));
        }
        return Conv(GroupNorm(h, w.Sub("conv_norm_out"), groups, eps, silu: true), w.Sub("conv_out"));
    }

    // UNetMidBlock2D: resnet; x + to_out(attention(group_norm(x) as tokens)), one head of all C channels; resnet
    private static Maps Mid(Maps h, RefWeights w, int groups, double eps)
    {
        h = Resnet(h, null, w.Sub("resnets.0"), groups, eps);
        var attention = w.Sub("attentions.0");
        var tokens = ToTokens(GroupNorm(h, attention.Sub("group_norm"), groups, eps, silu: false));
        h = Add(ToMaps(Attention(tokens, null, attention, heads: 1), h.H, h.W), h);
        return Resnet(h, null, w.Sub("resnets.1"), groups, eps);
    }
}
