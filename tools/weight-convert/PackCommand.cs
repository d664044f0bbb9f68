using System.CommandLine;
using System.Diagnostics;
using IIP.Engine.Weights;

namespace IIP.WeightConvert;

/// <summary>`weight-convert pack`: any supported checkpoint -> the engine's packed fp16 .iipw file.</summary>
public static class PackCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Diffusers folder, single-file LDM .safetensors, or .iipw file.", Required = true };
        var outFile = new Option<string>("--out") { Description = "The .iipw file to write (the tokenizer goes to FILE.tokenizer/).", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer folder (vocab.json, merges.txt), needed for single-file checkpoints." };
        var variant = new Option<string?>("--variant") { Description = "Diffusers weights variant to read, e.g. fp16 (default: plain files, then fp16)." };

        var command = new Command("pack", "Convert a checkpoint to the engine's packed fp16 weight file (.iipw).")
        {
            model, outFile, tokenizer, variant,
        };
        command.SetAction(parse => CommandRunner.Run(parse, output =>
        {
            var watch = Stopwatch.StartNew();
            using var checkpoint = StableDiffusionCheckpoint.Open(parse.GetRequiredValue(model), parse.GetValue(tokenizer), parse.GetValue(variant));
            string path = parse.GetRequiredValue(outFile);
            PackedWeightsWriter.Write(checkpoint, path, parse.GetValue(tokenizer));
            long parameters = ModelParts.All.Sum(p => SdParameterShapes.Count(SdParameterShapes.For(p, checkpoint.Unet, checkpoint.Vae, checkpoint.TextEncoder)));
            output.WriteLine($"packed {checkpoint.Layout} checkpoint {checkpoint.Path} ({parameters:N0} parameters) -> {Path.GetFullPath(path)} " +
                $"({new FileInfo(path).Length:N0} bytes) in {watch.Elapsed.TotalSeconds:F1} s");
            if (checkpoint.TokenizerDirectory is null && parse.GetValue(tokenizer) is null)
                output.WriteLine("note: no tokenizer was found or given; pass --tokenizer DIR to ship one with the packed file");
        }));
        return command;
    }
}
