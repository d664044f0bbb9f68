using IIP.Engine.Tensors;

namespace IIP.Engine.Weights;

/// <summary>Element type of a stored tensor.</summary>
public enum WeightDType { F32, F16, BF16, I64 }

/// <summary>Name, shape and stored type of one tensor in a checkpoint.</summary>
public sealed record WeightInfo(string Name, int[] Shape, WeightDType DType);

/// <summary>
/// Named tensors of one model part (unet, vae or text_encoder) under diffusers / transformers names
/// without the part prefix, e.g. "conv_in.weight", "text_model.embeddings.token_embedding.weight".
/// Loaders of other layouts rename (and reshape) into these names.
/// </summary>
public interface IWeightSource
{
    /// <summary>Where the tensors come from (a file path), for error messages.</summary>
    string Origin { get; }

    IReadOnlyCollection<string> Names { get; }

    WeightInfo Info(string name);

    /// <summary>The tensor as fp32 on the host. Throws <see cref="WeightException"/> naming the file and tensor.</summary>
    Tensor Load(string name);
}

/// <summary>A checkpoint problem: the message names the file and, where there is one, the tensor.</summary>
public sealed class WeightException(string message) : Exception(message)
{
    /// <summary>The tensor-level mismatches behind a failed validation (empty for other errors).</summary>
    public IReadOnlyList<WeightProblem> Problems { get; private init; } = [];

    public WeightException(string message, IReadOnlyList<WeightProblem> problems) : this(message) => Problems = problems;
}

/// <summary>What is wrong with one tensor name when a weight source is checked against the expected parameters.</summary>
public enum WeightProblemKind
{
    /// <summary>Expected by the config but absent from the file.</summary>
    Missing,

    /// <summary>In the file but not a parameter of the configured model.</summary>
    Unknown,

    /// <summary>Present with a shape other than the config's.</summary>
    Misshaped,

    /// <summary>Present but stored as a non-float type (e.g. I64) where a float parameter is expected.</summary>
    NotFloat,
}

/// <summary>One mismatch: the part, the kind, the diffusers tensor name and a detail (shapes or dtype).</summary>
public sealed record WeightProblem(ModelPart Part, WeightProblemKind Kind, string Name, string Detail);
