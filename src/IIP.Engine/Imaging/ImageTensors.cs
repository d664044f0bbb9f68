using IIP.Engine.Tensors;

namespace IIP.Engine.Imaging;

/// <summary>Conversions between 8-bit RGB images and the [-1, 1] NCHW tensors the VAE reads and writes.</summary>
public static class ImageTensors
{
    /// <summary>
    /// [1, 3, H, W] with x / 127.5 - 1 per byte, so 0 -> -1 and 255 -> 1 (torchvision ToTensor then
    /// Normalize(0.5, 0.5), as SD img2img pipelines prepare images).
    /// </summary>
    public static Tensor ToTensor(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        int h = image.Height, w = image.Width, plane = h * w;
        var data = new float[3 * plane];                                   // [1, 3, H, W]
        byte[] px = image.Pixels;                                          // [H, W, 3]
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                data[c * plane + i] = px[i * 3 + c] / 127.5f - 1f;
        return Tensor.From(data, 1, 3, h, w);
    }

    /// <summary>
    /// Image <paramref name="index"/> of a [N, 3, H, W] tensor in [-1, 1], as diffusers' VaeImageProcessor
    /// postprocesses: ((x / 2 + 0.5).clamp(0, 1) * 255).round() in fp32, round half to even (numpy).
    /// </summary>
    /// <exception cref="ArgumentException">Wrong shape, index out of range, or a NaN value.</exception>
    public static RgbImage ToImage(Tensor tensor, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Rank != 4 || tensor.Shape[1] != 3 || tensor.Shape[2] <= 0 || tensor.Shape[3] <= 0)
            throw new ArgumentException($"an image tensor is [N, 3, H, W], got [{tensor.ShapeText}]", nameof(tensor));
        if ((uint)index >= (uint)tensor.Shape[0])
            throw new ArgumentOutOfRangeException(nameof(index), $"image {index} of a batch of {tensor.Shape[0]}");
        int h = tensor.Shape[2], w = tensor.Shape[3], plane = h * w;
        float[] src = tensor.Data;                                         // [N, 3, H, W]
        long batchOffset = (long)index * 3 * plane;
        var image = new RgbImage(w, h);
        byte[] px = image.Pixels;                                          // [H, W, 3]
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < plane; i++)
            {
                float x = src[batchOffset + c * plane + i];
                if (float.IsNaN(x))
                    throw new ArgumentException($"image {index} has NaN at channel {c}, y {i / w}, x {i % w}", nameof(tensor));
                float unit = Math.Clamp(x / 2f + 0.5f, 0f, 1f);
                px[i * 3 + c] = (byte)MathF.Round(unit * 255f, MidpointRounding.ToEven);
            }
        return image;
    }
}
