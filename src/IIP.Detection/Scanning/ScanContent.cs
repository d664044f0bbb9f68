using System.Security.Cryptography;
using IIP.Engine.Imaging;
using IIP.Engine.Tensors;

namespace IIP.Detection.Scanning;

/// <summary>
/// The bytes behind a scan item's path, wherever they live: a file, or a member of a WebDataset shard
/// (<see cref="WebDatasetShard.IsMemberPath"/>). What the scanner hashes and decodes.
/// </summary>
public static class ScanContent
{
    /// <summary>Lower-case hex SHA-256 of the item's bytes.</summary>
    public static string Sha256(string path) =>
        WebDatasetShard.IsMemberPath(path) ? Convert.ToHexStringLower(SHA256.HashData(WebDatasetShard.ReadMember(path))) : ScanHashes.Sha256OfFile(path);

    /// <summary>The item as the model's input [1, 3, S, S] (IIP.md step 1, <see cref="ModelImageLoader"/>).</summary>
    public static Tensor LoadImage(string path, int size) =>
        WebDatasetShard.IsMemberPath(path) ? ModelImageLoader.Load(WebDatasetShard.ReadMember(path), path, size) : ModelImageLoader.Load(path, size);
}
