namespace IIP.Engine.Imaging;

/// <summary>An image file is missing, empty, corrupt or in a format the decoder does not read; the message names the file.</summary>
public sealed class ImageLoadException(string path, string problem, Exception? inner = null)
    : Exception($"cannot load image {path}: {problem}", inner)
{
    public string Path { get; } = path;

    public string Problem { get; } = problem;
}
