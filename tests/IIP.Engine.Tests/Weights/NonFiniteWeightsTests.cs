using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.Engine.Tests.Weights;

/// <summary>NaN and infinity in a checkpoint are reported when it is loaded, naming the file and the tensor.</summary>
public sealed class NonFiniteWeightsTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(99)]   // in the scalar tail after the last whole vector
    public void Finds_the_first_non_finite_float_wherever_it_is(int at)
    {
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var values = Enumerable.Range(0, 100).Select(i => (float)Math.Sin(i) * 1e30f).ToArray();
            Assert.Equal(-1, NonFiniteWeights.FindFirst(values));
            values[at] = bad;
            values[^1] = float.NaN;   // a later one does not hide the first
            Assert.Equal(at == 99 ? 99 : at, NonFiniteWeights.FindFirst(values));
        }
        Assert.Equal(-1, NonFiniteWeights.FindFirst(new[] { float.MaxValue, float.MinValue, float.Epsilon, -0f }));
    }

    [Fact]
    public void Finds_non_finite_halves_and_passes_the_largest_finite_ones()
    {
        var values = Enumerable.Repeat(Half.MaxValue, 70).ToArray();
        Assert.Equal(-1, NonFiniteWeights.FindFirst(values));
        values[41] = Half.PositiveInfinity;
        Assert.Equal(41, NonFiniteWeights.FindFirst(values));
        values[3] = Half.NaN;
        Assert.Equal(3, NonFiniteWeights.FindFirst(values));
    }

    [Fact]
    public void Loading_a_model_with_a_NaN_weight_names_the_file_and_the_tensor()
    {
        // the tiny model with one UNet file copied (the others linked) and a NaN written into conv_in.bias
        const string Unet = "unet/diffusion_pytorch_model.safetensors";
        string dir = TinyModelCopies.Create("nan-weight", relative => relative == Unet ? null : relative);
        string file = Path.Combine(dir, Unet);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        byte[] bytes = File.ReadAllBytes(Path.Combine(TestPaths.TinySdDiffusers, Unet));
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLength)).RootElement;
        var entry = header.GetProperty("conv_in.bias");
        long start = 8 + headerLength + entry.GetProperty("data_offsets")[0].GetInt64();
        string dtype = entry.GetProperty("dtype").GetString()!;
        if (dtype == "F32") BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan((int)start + 4), float.NaN);   // element 1
        else BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan((int)start + 2), Half.NaN);
        File.WriteAllBytes(file, bytes);

        using var checkpoint = StableDiffusionCheckpoint.Open(dir);
        var e = Assert.Throws<WeightException>(() => new StableDiffusion(checkpoint, CpuBackend.Instance));
        Assert.Contains("conv_in.bias", e.Message);
        Assert.Contains("non-finite value (NaN) at element 1", e.Message);
        Assert.Contains(Unet.Split('/')[0], e.Message);
    }
}
