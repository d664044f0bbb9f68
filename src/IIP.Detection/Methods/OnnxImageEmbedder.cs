using IIP.Engine.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace IIP.Detection.Methods;

/// <summary>
/// An external image-embedding model (SSCD, CLIP image tower, DINO, ... exported to ONNX) for IIP.md step 6's
/// "external image-embedding" similarity. The model must have exactly one input, a 4-D float image [1, 3, H, W]
/// (the batch dimension may be dynamic); its first output, flattened, is the embedding and must be float.
/// Preprocessing of an image [1, 3, S, S] in [-1, 1]:
/// 1. pixels p = clamp((x + 1) / 2, 0, 1);
/// 2. bilinear resize to H x W with half-pixel centers (PyTorch F.interpolate(mode="bilinear", align_corners=False,
///    antialias=False)); a dynamic H or W keeps the image's own size S (the diffusion model's native size);
/// 3. per channel (p - mean[c]) / std[c], by default the ImageNet statistics SSCD, DINO and torchvision models
///    expect; CLIP image towers want their own (OpenAI CLIP: mean 0.48145466, 0.4578275, 0.40821073, std
///    0.26862954, 0.26130258, 0.27577711): pass them to the constructor (<see cref="IipOptions.EmbeddingMean"/>,
///    <see cref="IipOptions.EmbeddingStd"/>, `--embedding-mean`, `--embedding-std`).
/// The session is created once per instance; ONNX Runtime's Run is thread-safe.
/// </summary>
public sealed class OnnxImageEmbedder : IDisposable
{
    /// <summary>ImageNet per-channel mean on [0, 1] RGB pixels.</summary>
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet per-channel standard deviation on [0, 1] RGB pixels.</summary>
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    private readonly InferenceSession _session;
    private readonly string _inputName;
    private readonly string _outputName;
    private readonly float[] _mean;
    private readonly float[] _std;

    /// <summary>
    /// Loads <paramref name="modelPath"/>; throws naming the file when it is missing or not a usable image embedder.
    /// mean, std: per-channel normalization (R, G, B) on [0, 1] pixels; null: ImageNet's.
    /// </summary>
    public OnnxImageEmbedder(string modelPath, IReadOnlyList<float>? mean = null, IReadOnlyList<float>? std = null)
    {
        ModelPath = Path.GetFullPath(modelPath);
        _mean = (mean ?? ImageNetMean).ToArray();
        _std = (std ?? ImageNetStd).ToArray();
        if (_mean.Length != 3 || _std.Length != 3 || _mean.Any(m => !float.IsFinite(m)) || _std.Any(s => !(s > 0) || !float.IsFinite(s)))
            throw new ArgumentException("embedding normalization needs 3 finite means and 3 finite positive standard deviations");
        if (!File.Exists(ModelPath)) throw new FileNotFoundException($"embedding model {ModelPath}: file not found", ModelPath);
        try
        {
            _session = new InferenceSession(ModelPath);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"embedding model {ModelPath}: ONNX Runtime cannot load it: {e.Message}", e);
        }
        try
        {
            (_inputName, InputHeight, InputWidth) = ReadImageInput(_session, ModelPath);
            var (outputName, output) = _session.OutputMetadata.First();
            if (!output.IsTensor || output.ElementType != typeof(float))
                throw new InvalidDataException($"embedding model {ModelPath}: its first output '{outputName}' must be a float tensor, got {output.ElementType.Name}{(output.IsTensor ? "" : " (not a tensor)")}");
            _outputName = outputName;
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    public string ModelPath { get; }

    /// <summary>The per-channel mean (R, G, B) subtracted from [0, 1] pixels.</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>The per-channel standard deviation (R, G, B) the centred pixels are divided by.</summary>
    public IReadOnlyList<float> Std => _std;

    /// <summary>Whether this embedder is the one <paramref name="options"/> describe: same model file and normalization.</summary>
    public bool Matches(IipOptions options) =>
        options.EmbeddingModelPath is { } path && ModelPath == Path.GetFullPath(path)
        && _mean.SequenceEqual(options.EmbeddingMean ?? ImageNetMean) && _std.SequenceEqual(options.EmbeddingStd ?? ImageNetStd);

    /// <summary>The model's input height, or null when dynamic (the image keeps its own height).</summary>
    public int? InputHeight { get; }

    /// <summary>The model's input width, or null when dynamic (the image keeps its own width).</summary>
    public int? InputWidth { get; }

    /// <summary>cos(embed(a), embed(b)) for two images [1, 3, S, S] in [-1, 1].</summary>
    public double Similarity(Tensor a, Tensor b) => Methods.Similarity.Cosine(Embed(a), Embed(b));

    /// <summary>image [1, 3, S, S] in [-1, 1] -> the model's first output, flattened.</summary>
    public float[] Embed(Tensor image)
    {
        var input = Preprocess(image);                                                          // [1, 3, H, W]
        using var value = OrtValue.CreateTensorValueFromMemory(input.Data, input.Shape.Select(d => (long)d).ToArray());
        using var options = new RunOptions();
        using var outputs = _session.Run(options, [_inputName], [value], [_outputName]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>image [1, 3, S, S] in [-1, 1] -> [1, 3, H, W]: [0, 1] pixels, bilinearly resized, normalized (see the class summary).</summary>
    public Tensor Preprocess(Tensor image)
    {
        if (image.Rank != 4 || image.Shape[0] != 1 || image.Shape[1] != 3)
            throw new ArgumentException($"embedding needs an image [1, 3, H, W], got [{image.ShapeText}]");
        int srcH = image.Shape[2], srcW = image.Shape[3];
        int h = InputHeight ?? srcH, w = InputWidth ?? srcW;
        var result = new Tensor([1, 3, h, w]);
        // half-pixel centers: source coordinate u = (i + 0.5) srcH / h - 0.5, clamped to [0, srcH - 1]
        var (y0, y1, fy) = Taps(srcH, h);
        var (x0, x1, fx) = Taps(srcW, w);
        for (int c = 0; c < 3; c++)
        {
            int plane = c * srcH * srcW;
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    float top = Lerp(Pixel(image, plane + y0[i] * srcW + x0[j]), Pixel(image, plane + y0[i] * srcW + x1[j]), fx[j]);
                    float bottom = Lerp(Pixel(image, plane + y1[i] * srcW + x0[j]), Pixel(image, plane + y1[i] * srcW + x1[j]), fx[j]);
                    result.Data[(c * h + i) * w + j] = (Lerp(top, bottom, fy[i]) - _mean[c]) / _std[c];
                }
        }
        return result;
    }

    public void Dispose() => _session.Dispose();

    private static float Pixel(Tensor image, int index) => Math.Clamp((image.Data[index] + 1f) / 2f, 0f, 1f);

    private static float Lerp(float a, float b, float t) => a + (b - a) * t;

    /// <summary>For each of n output positions over a source of length src: the two source taps and the weight of the second.</summary>
    private static (int[] Low, int[] High, float[] Weight) Taps(int src, int n)
    {
        var low = new int[n]; var high = new int[n]; var weight = new float[n];
        double scale = (double)src / n;
        for (int i = 0; i < n; i++)
        {
            double u = Math.Clamp((i + 0.5) * scale - 0.5, 0, src - 1);
            low[i] = (int)Math.Floor(u);
            high[i] = Math.Min(low[i] + 1, src - 1);
            weight[i] = (float)(u - low[i]);
        }
        return (low, high, weight);
    }

    private static (string Name, int? Height, int? Width) ReadImageInput(InferenceSession session, string path)
    {
        var inputs = session.InputMetadata;
        if (inputs.Count != 1)
            throw new InvalidDataException($"embedding model {path}: needs exactly one input (an image [1, 3, H, W]), has {inputs.Count}: {string.Join(", ", inputs.Keys)}");
        var (name, input) = inputs.First();
        var dims = input.Dimensions;
        if (!input.IsTensor || input.ElementType != typeof(float) || dims.Length != 4)
            throw new InvalidDataException($"embedding model {path}: input '{name}' must be a 4-D float tensor [1, 3, H, W], got {input.ElementType.Name} of rank {dims.Length}");
        if (dims[0] is not (1 or -1) || dims[1] is not (3 or -1))
            throw new InvalidDataException($"embedding model {path}: input '{name}' must be [1, 3, H, W], got [{string.Join(", ", dims)}]");
        return (name, dims[2] > 0 ? dims[2] : null, dims[3] > 0 ? dims[3] : null);
    }
}
