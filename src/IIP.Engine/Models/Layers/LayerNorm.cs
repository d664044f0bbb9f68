using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Layers;

/// <summary>torch.nn.LayerNorm over the last axis, weight [C], bias [C].</summary>
public sealed class LayerNorm(ModuleWeights w, float eps)
{
    public Tensor Weight { get; } = w["weight"];
    public Tensor Bias { get; } = w["bias"];
    public float Eps { get; } = eps;
    private readonly IBackend _be = w.Backend;

    // x [.., C] -> same
    public Tensor Forward(Tensor x) => _be.LayerNorm(x, Weight, Bias, Eps);

    // x (the forward input), dy like x -> dx like x
    public Tensor Backward(Tensor x, Tensor dy) => _be.Gradients().LayerNormBackward(x, Weight, Eps, dy);
}
