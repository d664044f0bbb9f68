using System.Security.Cryptography;
using System.Text;

namespace IIP.Engine.Weights;

/// <summary>
/// The content hash of a model: SHA-256 over every file of a model folder (relative path and bytes, in
/// ordinal path order) or over a single checkpoint file. Caches keyed by it (the perturbation embedding) follow
/// the weights, not the path. With <see cref="CheckpointOverrides"/> the hash also covers what they change (the config
/// folder's JSON files, the prediction type): the same weights read as another model are another model.
/// </summary>
public static class ModelFingerprint
{
    public static string Compute(string modelPath, CheckpointOverrides? overrides = null)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        if (overrides is { IsEmpty: false })
        {
            sha.AppendData(Encoding.UTF8.GetBytes($"prediction_type={overrides.PredictionType}\0"));
            if (overrides.ConfigDirectory is { } dir && Directory.Exists(dir))
                foreach (var file in Directory.EnumerateFiles(dir, "*.json", SearchOption.AllDirectories)
                             .Select(f => Path.GetRelativePath(dir, f).Replace('\\', '/')).Order(StringComparer.Ordinal))
                {
                    sha.AppendData(Encoding.UTF8.GetBytes("config:" + file + "\0"));
                    Append(sha, Path.Combine(dir, file), buffer);
                }
        }
        if (Directory.Exists(modelPath))
        {
            foreach (var file in Directory.EnumerateFiles(modelPath, "*", SearchOption.AllDirectories)
                         .Select(f => Path.GetRelativePath(modelPath, f).Replace('\\', '/'))
                         .Order(StringComparer.Ordinal))
            {
                sha.AppendData(Encoding.UTF8.GetBytes(file + "\0"));
                Append(sha, Path.Combine(modelPath, file), buffer);
            }
        }
        else
        {
            Append(sha, modelPath, buffer);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static void Append(IncrementalHash sha, string path, byte[] buffer)
    {
        using var stream = File.OpenRead(path);
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0) sha.AppendData(buffer, 0, n);
    }
}
