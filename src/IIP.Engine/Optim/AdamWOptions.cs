namespace IIP.Engine.Optim;

/// <summary>
/// Hyperparameters of <see cref="AdamW"/>, with torch.optim.AdamW's defaults. Kept in double because PyTorch
/// computes its scalar coefficients in Python floats.
/// </summary>
public sealed record AdamWOptions
{
    public double LearningRate { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 1e-2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid value (PyTorch's checks).</summary>
    public void Validate()
    {
        if (!(LearningRate >= 0)) throw new ArgumentException($"AdamW: invalid learning rate {LearningRate}");
        if (!(Epsilon >= 0)) throw new ArgumentException($"AdamW: invalid epsilon {Epsilon}");
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentException($"AdamW: invalid beta1 {Beta1}, needs 0 <= beta1 < 1");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"AdamW: invalid beta2 {Beta2}, needs 0 <= beta2 < 1");
        if (!(WeightDecay >= 0)) throw new ArgumentException($"AdamW: invalid weight decay {WeightDecay}");
    }
}
