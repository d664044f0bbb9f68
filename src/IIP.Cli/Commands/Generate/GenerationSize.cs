using IIP.Engine.Configs;

namespace IIP.Cli.Commands.Generate;

/// <summary>
/// The image size a model can generate. The VAE halves the image once per level but the last, so height and width
/// must be multiples of 2^(VAE levels - 1) (8 for SD, as diffusers' pipeline requires). The latent's sides need not be
/// multiples of what the UNet halves them by: its down path rounds odd sizes up and its up path cuts back to each skip's
/// size, as diffusers' UNet does.
/// </summary>
public sealed record GenerationSize(int Height, int Width, int VaeFactor, int UnetFactor)
{
    /// <summary>What each side must be a multiple of: the VAE's factor.</summary>
    public int Multiple => VaeFactor;

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
                $"{size.VaeFactor}); e.g. {Nearest(value, size.Multiple)}");
    }

    private static int Nearest(int value, int multiple) => Math.Max(multiple, (int)Math.Round(value / (double)multiple) * multiple);
}
