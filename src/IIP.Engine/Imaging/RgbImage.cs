namespace IIP.Engine.Imaging;

/// <summary>An 8-bit RGB image: <see cref="Pixels"/> is row-major [Height, Width, 3], channels interleaved.</summary>
public sealed class RgbImage
{
    public int Width { get; }

    public int Height { get; }

    /// <summary>[Height, Width, 3] bytes: pixel (x, y) channel c is at (y * Width + x) * 3 + c.</summary>
    public byte[] Pixels { get; }

    /// <summary>Wraps <paramref name="pixels"/> (not copied), or allocates a black image when null.</summary>
    public RgbImage(int width, int height, byte[]? pixels = null)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentException($"image size {width}x{height} must be positive");
        long length = (long)width * height * 3;
        if (length > Array.MaxLength)
            throw new ArgumentException($"image size {width}x{height} is too large for one array");
        if (pixels is not null && pixels.Length != length)
            throw new ArgumentException($"{pixels.Length} bytes given, a {width}x{height} RGB image needs {length}");
        Width = width;
        Height = height;
        Pixels = pixels ?? new byte[length];
    }

    /// <summary>Channel <paramref name="c"/> (0 red, 1 green, 2 blue) of pixel (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public byte this[int x, int y, int c]
    {
        get => Pixels[Offset(x, y, c)];
        set => Pixels[Offset(x, y, c)] = value;
    }

    public RgbImage Clone() => new(Width, Height, (byte[])Pixels.Clone());

    public override string ToString() => $"RgbImage {Width}x{Height}";

    private int Offset(int x, int y, int c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || (uint)c >= 3)
            throw new ArgumentOutOfRangeException(nameof(x), $"pixel ({x}, {y}) channel {c} is outside a {Width}x{Height} RGB image");
        return (y * Width + x) * 3 + c;
    }
}
