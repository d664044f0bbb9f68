using IIP.Engine.Tensors;

namespace IIP.Detection.Methods;

/// <summary>One image to score: its path as given, its pixels at the model's native size and its caption if known.</summary>
/// <param name="Image">[1, 3, S, S] in [-1, 1], S = the model's native size (preprocessed per IIP.md step 1).</param>
public sealed record ScanInput(string ImagePath, Tensor Image, string? Caption);

/// <summary>A method's verdict on one image: higher <see cref="Score"/> means more likely memorized.</summary>
public sealed record MethodResult(string Method, double Score, IReadOnlyDictionary<string, double> Components, double[]? Tcnp = null);

/// <summary>
/// A memorization or membership detector run by <c>iip scan</c>. One instance may emit several methods at once
/// when they share their expensive part (IIP and its single-signal ablations share one inversion and regeneration).
/// </summary>
public interface IDetectionMethod
{
    /// <summary>The method names this instance emits, in order.</summary>
    IReadOnlyList<string> Methods { get; }

    /// <summary>Hash of every option that changes the scores (resumed scans reuse only records with the same hash).</summary>
    string OptionsKey { get; }

    /// <summary>Whether it needs <see cref="ScanInput.Caption"/> (the Ori-prompt reference does).</summary>
    bool NeedsCaption { get; }

    /// <summary>Scores one image: one result per entry of <see cref="Methods"/>.</summary>
    IReadOnlyList<MethodResult> Score(ScanInput input);
}

/// <summary>
/// A method that can score several images in one pass (batched model calls, for throughput on a GPU); each image's
/// results are its <see cref="IDetectionMethod.Score"/> up to the floating-point order of batched products.
/// </summary>
public interface IBatchDetectionMethod : IDetectionMethod
{
    /// <summary>Scores the images together: one list of results (one per entry of Methods) per input, in order.</summary>
    IReadOnlyList<IReadOnlyList<MethodResult>> ScoreBatch(IReadOnlyList<ScanInput> inputs);
}
