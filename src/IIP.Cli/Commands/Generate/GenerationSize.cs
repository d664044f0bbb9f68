using IIP.Engine.Configs;

namespace IIP.Cli.Commands.Generate;

/// <summary>
/// The image size a model can generate. The VAE halves the image once per level but the last and the UNet
/// halves the latent once per level but the last (the SD v1 layout of SdParameterShapes), so height and width
/// must be multiples of 2^(VAE levels - 1) x 2^(UNet levels - 1): 8 x 8 = 64 for SD v1.
/// </summary>
public sealed record GenerationSize(int Height, int Width, int VaeFactor, int UnetFactor)
{
    /// <summary>Pixels per side that one cell of the UNet's deepest level covers.</summary>
    public int Multiple => VaeFactor * UnetFactor;

    public int LatentHeight => Height / VaeFactor;

    public int LatentWidth => Width / VaeFactor;

    /// <summary>
    /// Height and width as given, or the model's native size (VAE factor x UNet sample_size) for the ones left out.
    /// </summary>
    /// <exception cref="ArgumentException">A side that is not a positive multiple of <see cref="Multiple"/>, naming the option and the factors.</exception>
    public static GenerationSize Resolve(int? height, int? width, UNetConfig unet, VaeConfig vae)
    {
        int vaeFactor = 1 << (vae.BlockOutChannels.Length - 1);
        int unetFactor = 1 << (unet.BlockOutChannels.Length - 1);
        int native = vaeFactor * unet.SampleSize;
        var size = new GenerationSize(height ?? native, width ?? native, vaeFactor, unetFactor);
        Check("--height", size.Height, size);
        Check("--width", size.Width, size);
        return size;
    }

    private static void Check(string option, int value, GenerationSize size)
    {
        if (value <= 0 || value % size.Multiple != 0)
            throw new ArgumentException(
                $"{option} {value} must be a positive multiple of {size.Multiple} for this model (the VAE scales the image by " +
                $"{size.VaeFactor} and the UNet halves the latent down to 1/{size.UnetFactor}); e.g. {Nearest(value, size.Multiple)}");
    }

    private static int Nearest(int value, int multiple) => Math.Max(multiple, (int)Math.Round(value / (double)multiple) * multiple);
}
