using System.Security.Cryptography;

namespace IIP.Detection.Scanning;

/// <summary>The hash of an image's bytes a <see cref="ScanRecord"/> carries (the options' is <see cref="Methods.OptionsKeys"/>').</summary>
public static class ScanHashes
{
    /// <summary>Lower-case hex SHA-256 of a file's bytes (64 characters).</summary>
    public static string Sha256OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
