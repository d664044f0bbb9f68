using IIP.Runtime.Tensors;

namespace IIP.Runtime.Weights;

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
public sealed class WeightException(string message) : Exception(message);
