using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Layers;

/// <summary>torch.nn.GroupNorm with affine weight [C] and bias [C]; <c>silu</c> fuses the following SiLU.</summary>
public sealed class GroupNorm(ModuleWeights w, int groups, float eps)
{
    public Tensor Weight { get; } = w["weight"];
    public Tensor Bias { get; } = w["bias"];
    public int Groups { get; } = groups;
    public float Eps { get; } = eps;
    private readonly IBackend _be = w.Backend;

    // x [N, C, *spatial] -> same
    public Tensor Forward(Tensor x, bool silu = false) => _be.GroupNorm(x, Weight, Bias, Groups, Eps, silu);

    // x (the forward input), dy like x -> dx like x
    public Tensor Backward(Tensor x, Tensor dy, bool silu = false) =>
        _be.Gradients().GroupNormBackward(x, Weight, Bias, Groups, Eps, silu, dy);
}
