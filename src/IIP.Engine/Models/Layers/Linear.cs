using IIP.Engine.Backends;
using IIP.Engine.Tensors;

namespace IIP.Engine.Models.Layers;

/// <summary>torch.nn.Linear: y = x W^T + b. weight [Out, In], bias [Out] (optional).</summary>
public sealed class Linear(ModuleWeights w)
{
    public Tensor Weight { get; } = w["weight"];
    public Tensor? Bias { get; } = w.Optional("bias");
    private readonly IBackend _be = w.Backend;

    public int InFeatures => Weight.Shape[1];
    public int OutFeatures => Weight.Shape[0];

    // x [.., In] -> [.., Out]
    public Tensor Forward(Tensor x) => _be.Linear(x, Weight, Bias);

    // dy [.., Out] -> dx [.., In] = dy W
    public Tensor BackwardInput(Tensor dy) => _be.Gradients().LinearBackwardInput(dy, Weight);
}
