using System.Security.Cryptography;
using System.Text;

namespace IIP.Engine.Weights;

/// <summary>
/// The content hash of a model: SHA-256 over every file of a model folder (relative path and bytes, in
/// ordinal path order) or over a single checkpoint file. Caches keyed by it (the perturbation embedding) follow
/// the weights, not the path. With <see cref="CheckpointOverrides"/> the hash also covers what they change (the config
/// folder's JSON files, the prediction type): the same weights read as another model are another model. A tokenizer
/// folder outside the model (a single-file checkpoint's <c>--tokenizer</c> or packed sibling, or <c>--tokenizer</c> over a
/// diffusers folder) is hashed too, so that captions and the perturbation prompt tokenized otherwise key other records;
/// a diffusers folder's own tokenizer is already among its files, and a fingerprint without an outside tokenizer is what
/// it always was.
/// </summary>
public static class ModelFingerprint
{
    /// <summary>The fingerprint of an opened checkpoint: its path, the <paramref name="overrides"/> and the tokenizer folder it uses.</summary>
    public static string Compute(StableDiffusionCheckpoint checkpoint, CheckpointOverrides? overrides = null) =>
        Compute(checkpoint.Path, overrides, checkpoint.TokenizerDirectory);

    public static string Compute(string modelPath, CheckpointOverrides? overrides = null, string? tokenizerDirectory = null)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        if (overrides is { IsEmpty: false })
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"prediction_type={overrides.PredictionType}\0"));
            if (overrides.ConfigDirectory is { } dir && Directory.Exists(dir))
                AppendFolder(sha, dir, "*.json", "config:", buffer);
        }
        if (Directory.Exists(modelPath))
            AppendFolder(sha, modelPath, "*", "", buffer);
        else
            Append(sha, modelPath, buffer);
        if (tokenizerDirectory is not null && Directory.Exists(tokenizerDirectory) && !IsInside(tokenizerDirectory, modelPath))
            AppendFolder(sha, tokenizerDirectory, "*", "tokenizer:", buffer);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    // a folder inside the model folder is among the files hashed already
    private static bool IsInside(string folder, string modelPath)
    {
        if (!Directory.Exists(modelPath)) return false;
        string relative = Path.GetRelativePath(Path.GetFullPath(modelPath), Path.GetFullPath(folder));
        return relative != ".." && !relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !Path.IsPathRooted(relative);
    }

    // every file of the folder matching the pattern, in ordinal order of its '/'-separated relative path: prefix + path + NUL, then its bytes
    private static void AppendFolder(IncrementalHash sha, string folder, string pattern, string prefix, byte[] buffer)
    {
        foreach (var file in Directory.EnumerateFiles(folder, pattern, SearchOption.AllDirectories)
                     .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/')).Order(StringComparer.Ordinal))
        {
            sha.AppendData(Encoding.UTF8.GetBytes(prefix + file + "\0"));
            Append(sha, Path.Combine(folder, file), buffer);
        }
    }

    private static void Append(IncrementalHash sha, string path, byte[] buffer)
    {
        using var stream = File.OpenRead(path);
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0) sha.AppendData(buffer, 0, n);
    }
}
