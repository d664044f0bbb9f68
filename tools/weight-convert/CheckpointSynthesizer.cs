using System.Text.Json;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.WeightConvert;

/// <summary>
/// Writes a deterministic random SD v1 checkpoint as a diffusers folder with F16 safetensors under the plain
/// file names. Init: weights (rank >= 2) ~ N(0, 1/fan_in) with fan_in = product of all dims but the first,
/// norm scales (rank-1 ".weight") = 1, biases = 0, so activations keep unit scale and stay finite.
/// Tensors are generated one at a time while the file streams out.
/// </summary>
public static class CheckpointSynthesizer
{
    public static void Write(SynthArchitecture arch, string outDir, ulong seed, string? tokenizerDir, TextWriter? log = null)
    {
        if (tokenizerDir is not null) DiffusersFolder.CheckTokenizerFolder(tokenizerDir);
        Directory.CreateDirectory(outDir);
        WriteModelIndex(Path.Combine(outDir, "model_index.json"));
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["iip.synth"] = $"arch={arch.Name} seed={seed}" };

        foreach (var part in ModelParts.All)
        {
            string folder = Path.Combine(outDir, part.FolderName());
            Directory.CreateDirectory(folder);
            DiffusersConfigs.WriteFile(Path.Combine(folder, "config.json"), w =>
            {
                switch (part)
                {
                    case ModelPart.Unet: DiffusersConfigs.WriteUNet(w, arch.Unet); break;
                    case ModelPart.Vae: DiffusersConfigs.WriteVae(w, arch.Vae); break;
                    default: DiffusersConfigs.WriteTextEncoder(w, arch.TextEncoder); break;
                }
            });
            var parameters = SdParameterShapes.For(part, arch.Unet, arch.Vae, arch.TextEncoder);
            var tensors = parameters.Select(p => new SafetensorsTensor(p.Name, p.Shape, WeightDType.F16,
                destination => Initialize(destination, p, seed, $"{part.FolderName()}/{p.Name}"))).ToList();
            string file = Path.Combine(folder, $"{part.WeightsFileStem()}.safetensors");
            SafetensorsWriter.Write(file, tensors, metadata);
            log?.WriteLine($"{part.FolderName()}: {parameters.Count} tensors, {SdParameterShapes.Count(parameters):N0} parameters -> {file}");
        }

        string scheduler = Path.Combine(outDir, "scheduler");
        Directory.CreateDirectory(scheduler);
        DiffusersConfigs.WriteFile(Path.Combine(scheduler, "scheduler_config.json"), w => DiffusersConfigs.WriteScheduler(w, arch.Scheduler));

        if (tokenizerDir is not null)
            DiffusersFolder.CopyTokenizer(tokenizerDir, Path.Combine(outDir, "tokenizer"));
    }

    /// <summary>The init rule for one parameter (see the class summary).</summary>
    public static void Initialize(Span<float> destination, ParameterShape parameter, ulong seed, string stream)
    {
        if (parameter.Shape.Length >= 2)
        {
            long fanIn = Tensor.ElementCount(parameter.Shape.AsSpan(1));
            NormalSampler.Fill(destination, seed, NormalSampler.StableHash(stream), 1.0 / Math.Sqrt(fanIn));
        }
        else
        {
            destination.Fill(parameter.Name.EndsWith(".weight", StringComparison.Ordinal) ? 1f : 0f);
        }
    }

    private static void WriteModelIndex(string path)
    {
        DiffusersConfigs.WriteFile(path, w =>
        {
            w.WriteStartObject();
            w.WriteString("_class_name", "StableDiffusionPipeline");
            Pair(w, "scheduler", "diffusers", "DDIMScheduler");
            Pair(w, "text_encoder", "transformers", "CLIPTextModel");
            Pair(w, "tokenizer", "transformers", "CLIPTokenizer");
            Pair(w, "unet", "diffusers", "UNet2DConditionModel");
            Pair(w, "vae", "diffusers", "AutoencoderKL");
            w.WriteEndObject();
        });
    }

    private static void Pair(Utf8JsonWriter w, string key, string library, string type)
    {
        w.WriteStartArray(key);
        w.WriteStringValue(library);
        w.WriteStringValue(type);
        w.WriteEndArray();
    }
}
