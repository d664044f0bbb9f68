using IIP.Engine.Tensors;

namespace IIP.Engine.Imaging;

/// <summary>
/// IIP.md step 1: decode to RGB, resize the short side to the model's native size (antialiased bicubic),
/// center-crop square, map to [-1, 1]. path -> [1, 3, S, S].
/// </summary>
public static class ModelImageLoader
{
    public static Tensor Load(string path, int size) =>
        ImageTensors.ToTensor(ImagePreprocess.ResizeShortSideCenterCrop(ImageFile.Load(path), size));

    /// <summary><see cref="Load(string, int)"/> from image file contents; <paramref name="name"/> is used in error messages.</summary>
    public static Tensor Load(byte[] bytes, string name, int size) =>
        ImageTensors.ToTensor(ImagePreprocess.ResizeShortSideCenterCrop(ImageFile.Decode(bytes, name), size));
}
