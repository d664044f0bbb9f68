using IIP.Engine.Imaging;
using IIP.Engine.Tensors;

namespace IIP.Engine.Tests.Imaging;

public sealed class ImageTensorsTests
{
    [Fact]
    public void ToTensorIsPlanarAndScaledToMinusOneOne()
    {
        var image = new RgbImage(2, 1, [0, 255, 51, 102, 153, 204]);
        Tensor t = ImageTensors.ToTensor(image);
        Assert.Equal(new[] { 1, 3, 1, 2 }, t.Shape);
        // [1, 3, 1, 2]: red plane (0, 102), green (255, 153), blue (51, 204); value = x / 127.5 - 1
        float[] expected = [0 / 127.5f - 1, 102 / 127.5f - 1, 255 / 127.5f - 1, 153 / 127.5f - 1, 51 / 127.5f - 1, 204 / 127.5f - 1];
        Assert.Equal(expected, t.Data);
        Assert.Equal(-1f, t.Data[0]);
        Assert.Equal(1f, t.Data[2]);
    }

    [Fact]
    public void EveryByteRoundTrips()
    {
        var image = new RgbImage(256, 1);
        for (int x = 0; x < 256; x++)
            (image[x, 0, 0], image[x, 0, 1], image[x, 0, 2]) = ((byte)x, (byte)(255 - x), (byte)(x * 7));
        RgbImage back = ImageTensors.ToImage(ImageTensors.ToTensor(image));
        for (int i = 0; i < image.Pixels.Length; i++)
            Assert.True(image.Pixels[i] == back.Pixels[i], $"byte {i}: {image.Pixels[i]} came back as {back.Pixels[i]}");
    }

    [Fact]
    public void ToImageClampsAndRoundsHalfToEven()
    {
        // fp32: (x / 2 + 0.5) * 255 is exactly 64.5 for x = -0.49411762f and 127.5 for x = 0 (checked by
        // evaluating the same fp32 expression); numpy's round goes to the even neighbour: 64 and 128.
        float[] values = [-3f, -1f, 1f, 7f, float.NegativeInfinity, float.PositiveInfinity, -0.49411762f, 0f];
        byte[] expected = [0, 0, 255, 255, 0, 255, 64, 128];
        Assert.Equal(64.5f, (values[6] / 2f + 0.5f) * 255f);
        var t = Tensor.From([.. values, .. values, .. values], 1, 3, 1, values.Length); // [1, 3, 1, 8]
        RgbImage image = ImageTensors.ToImage(t);
        for (int c = 0; c < 3; c++)
            Assert.Equal(expected, Enumerable.Range(0, values.Length).Select(x => image[x, 0, c]).ToArray());
    }

    [Fact]
    public void ToImagePicksTheBatchItem()
    {
        var a = new RgbImage(3, 2);
        var b = new RgbImage(3, 2);
        new Random(1).NextBytes(a.Pixels);
        new Random(2).NextBytes(b.Pixels);
        Tensor batch = Tensor.ConcatBatch(ImageTensors.ToTensor(a), ImageTensors.ToTensor(b)); // [2, 3, 2, 3]
        Assert.Equal(a.Pixels, ImageTensors.ToImage(batch, 0).Pixels);
        Assert.Equal(b.Pixels, ImageTensors.ToImage(batch, 1).Pixels);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageTensors.ToImage(batch, 2));
    }

    [Fact]
    public void ToImageRejectsWrongShapesAndNaN()
    {
        Assert.Throws<ArgumentException>(() => ImageTensors.ToImage(Tensor.Zeros(1, 4, 2, 2)));
        Assert.Throws<ArgumentException>(() => ImageTensors.ToImage(Tensor.Zeros(3, 2, 2)));
        var t = Tensor.Zeros(1, 3, 2, 2);
        t.Data[7] = float.NaN; // channel 1, y 1, x 1
        var e = Assert.Throws<ArgumentException>(() => ImageTensors.ToImage(t));
        Assert.Contains("channel 1, y 1, x 1", e.Message);
    }
}
