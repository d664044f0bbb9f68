using System.Text.Json.Serialization;

namespace IIP.Detection.Scanning;

/// <summary>
/// One line of a scan results file: the outcome of one detection method on one image.
/// Serialized as a single JSON object per line (JSONL) by <see cref="ResultsWriter"/>; field names are the
/// lower-case JSON names below. Labels are not stored here: they live in a separate labels file.
/// </summary>
public sealed record ScanRecord
{
    /// <summary>The image path exactly as the scan was given it (not normalized).</summary>
    [JsonPropertyName("image")]
    public required string Image { get; init; }

    /// <summary>
    /// The image's absolute, normalized path when it was scored: the same file named through different spellings
    /// (relative, absolute, ./, ../) is one image to a resumed scan. Null in records written before it was recorded.
    /// </summary>
    [JsonPropertyName("path")]
    public string? Path { get; init; }

    /// <summary>
    /// The first 16 hex characters of the model's content fingerprint (<c>ModelFingerprint</c>): a results file holds the
    /// scores of one model, and a scan with another model is refused instead of reusing them. Null in older records.
    /// </summary>
    [JsonPropertyName("model")]
    public string? Model { get; init; }

    /// <summary>The device that scored the image (the backend's name, e.g. "cpu" or the GPU's); null in older records.</summary>
    [JsonPropertyName("device")]
    public string? Device { get; init; }

    /// <summary>Lower-case hex SHA-256 of the image file's bytes (<see cref="ScanHashes.Sha256OfFile"/>); empty when unreadable.</summary>
    [JsonPropertyName("sha256")]
    public required string Sha256 { get; init; }

    /// <summary>Detection method name, e.g. "iip", "mtcnp", "secmi".</summary>
    [JsonPropertyName("method")]
    public required string Method { get; init; }

    /// <summary>The method's score (higher = more likely memorized); null when <see cref="Error"/> is set.</summary>
    [JsonPropertyName("score")]
    public double? Score { get; init; }

    /// <summary>Named parts of the score (e.g. "mtcnp", "similarity", "discrepancy"). Never null.</summary>
    [JsonPropertyName("components")]
    public IReadOnlyDictionary<string, double> Components { get; init; } = new Dictionary<string, double>();

    /// <summary>Optional per-step TCNP (one value per regeneration step), null when not recorded.</summary>
    [JsonPropertyName("tcnp")]
    public double[]? Tcnp { get; init; }

    /// <summary>Wall-clock seconds this (image, method) took.</summary>
    [JsonPropertyName("seconds")]
    public double Seconds { get; init; }

    /// <summary>Why no score could be computed (e.g. a corrupt image), or null on success. Such records are final: see <see cref="ResumeSet"/>.</summary>
    [JsonPropertyName("error")]
    public string? Error { get; init; }

    /// <summary>Random seed the method used, if any.</summary>
    [JsonPropertyName("seed")]
    public long? Seed { get; init; }

    /// <summary>Hash of the method's options (<see cref="Methods.OptionsKeys.Hash"/>); part of the resume key.</summary>
    [JsonPropertyName("options")]
    public string? Options { get; init; }

    /// <summary>
    /// For a method conditioned on the image's caption (<see cref="Methods.IDetectionMethod.NeedsCaption"/>): the SHA-256 of the
    /// caption it was given (UTF-8; <see cref="CaptionSha256Of"/>), or null when the image had none (the record is then the
    /// error saying so). Part of the resume key for those methods: a caption edited, or given later, is scored again. Not
    /// written for other methods.
    /// </summary>
    [JsonPropertyName("caption_sha256")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CaptionSha256 { get; init; }

    public static string? CaptionSha256Of(string? caption) =>
        caption is null ? null : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(caption)));
}
