using IIP.Engine.Autograd;
using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Layers;

/// <summary>torch.nn.Conv2d. weight [O, C, KH, KW], bias [O]; square kernels use symmetric padding kernel/2 unless given.</summary>
public sealed class Conv2d
{
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int Stride { get; }
    public Padding2d Padding { get; }
    private readonly IBackend _be;

    public Conv2d(ModuleWeights w, int stride = 1, Padding2d? padding = null) : this(w, w["weight"], stride, padding) { }

    private Conv2d(ModuleWeights w, Tensor weight, int stride, Padding2d? padding)
    {
        Weight = weight;
        Bias = w.Optional("bias");
        Stride = stride;
        Padding = padding ?? Padding2d.Same(Weight.Shape[2] / 2);
        _be = w.Backend;
    }

    /// <summary>
    /// A 1x1 convolution from a module stored as a 1x1 Conv2d (weight [O, C, 1, 1]) or, with <paramref name="linear"/>, as a
    /// Linear layer (weight [O, C], SD 2.x's proj_in / proj_out): the same map per pixel, the Linear weight viewed as [O, C, 1, 1].
    /// </summary>
    public static Conv2d Pointwise(ModuleWeights w, bool linear)
    {
        var weight = w["weight"];
        int rank = linear ? 2 : 4;
        if (weight.Rank != rank || (!linear && (weight.Shape[2] != 1 || weight.Shape[3] != 1)))
            throw new Weights.WeightException($"{w.Describe("weight")} is [{weight.ShapeText}]; use_linear_projection {(linear ? "true" : "false")} " +
                $"needs {(linear ? "a Linear weight [O, C]" : "a 1x1 convolution [O, C, 1, 1]")}");
        return new Conv2d(w, linear ? weight.Reshape(weight.Shape[0], weight.Shape[1], 1, 1).AsConstant() : weight, 1, null);
    }

    public int InChannels => Weight.Shape[1];
    public int OutChannels => Weight.Shape[0];

    // x [N, C, H, W] -> [N, O, Ho, Wo]
    public Tensor Forward(Tensor x) => _be.Conv2d(x, Weight, Bias, Stride, Padding);

    /// <summary>Forward, recorded on <paramref name="tape"/> (when given) with <see cref="BackwardInput"/>.</summary>
    public Tensor Forward(Tensor x, GradientTape? tape)
    {
        var y = Forward(x);
        return tape is null ? y : tape.Record(y, [x], dy => [BackwardInput(dy, x.Shape[2], x.Shape[3])]);
    }

    // dy [N, O, Ho, Wo] -> dx [N, C, height, width] (the forward input's size)
    public Tensor BackwardInput(Tensor dy, int height, int width) =>
        _be.Gradients().Conv2dBackwardInput(dy, Weight, Stride, Padding, height, width);
}
