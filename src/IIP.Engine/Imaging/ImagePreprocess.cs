namespace IIP.Engine.Imaging;

/// <summary>Bringing arbitrary images to the square size a model works at.</summary>
public static class ImagePreprocess
{
    /// <summary>
    /// torchvision's <c>Compose([Resize(size, BICUBIC), CenterCrop(size)])</c> on a PIL image: the short
    /// side becomes <paramref name="size"/> (the long side int(size * long / short)), resized with PIL's
    /// antialiased bicubic (<see cref="ImageResample.Bicubic"/>), then the centered size x size square.
    /// </summary>
    public static RgbImage ResizeShortSideCenterCrop(RgbImage image, int size)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (size <= 0)
            throw new ArgumentException($"target size {size} must be positive", nameof(size));
        var (width, height) = ShortSideSize(image.Width, image.Height, size);
        RgbImage resized = ImageResample.Bicubic(image, width, height);
        return CenterCrop(resized, size, size);
    }

    /// <summary>torchvision's _compute_resized_output_size for an int size: short side = size, long side truncated.</summary>
    public static (int Width, int Height) ShortSideSize(int width, int height, int size)
    {
        bool wide = width > height;
        int shortSide = wide ? height : width, longSide = wide ? width : height;
        int newLong = (int)((double)size * longSide / shortSide);
        return wide ? (newLong, size) : (size, newLong);
    }

    /// <summary>
    /// torchvision's CenterCrop: top = round((H - height) / 2), left = round((W - width) / 2), with Python's
    /// round (half to even). The crop must fit inside the image.
    /// </summary>
    public static RgbImage CenterCrop(RgbImage image, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (width <= 0 || height <= 0 || width > image.Width || height > image.Height)
            throw new ArgumentException($"a {width}x{height} crop does not fit a {image.Width}x{image.Height} image");
        int top = (int)Math.Round((image.Height - height) / 2.0, MidpointRounding.ToEven);
        int left = (int)Math.Round((image.Width - width) / 2.0, MidpointRounding.ToEven);
        var crop = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
            Array.Copy(image.Pixels, ((top + y) * image.Width + left) * 3, crop.Pixels, y * width * 3, width * 3);
        return crop;
    }
}
