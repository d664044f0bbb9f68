using System.CommandLine;
using System.Diagnostics;

namespace IIP.WeightConvert;

/// <summary>`weight-convert synth`: a deterministic random SD v1 checkpoint (diffusers folder, fp16).</summary>
public static class SynthCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch")
        {
            Description = "Model shapes: sd-v1.4 (859.5M UNet, 83.7M VAE, 123.1M CLIP text), tiny (the golden tiny-sd topology) or small-test (3 UNet levels, 4 heads, 16 groups: for generality tests).",
            Required = true,
        };
        arch.AcceptOnlyFromAmong([.. SynthArchitecture.All.Select(a => a.Name)]);
        var outDir = new Option<string>("--out") { Description = "Folder to write the diffusers pipeline into.", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Random seed; the same seed gives byte-identical files.", DefaultValueFactory = _ => 0 };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Folder with vocab.json and merges.txt to copy into OUT/tokenizer." };

        var command = new Command("synth", "Write a random SD-shaped checkpoint (diffusers folder, F16 safetensors) for benchmarks and tests: SD v1.4, SD 2.1 (768-v) or a small test topology.")
        {
            arch, outDir, seed, tokenizer,
        };
        command.SetAction(parse => CommandRunner.Run(parse, output =>
        {
            var watch = Stopwatch.StartNew();
            var architecture = SynthArchitecture.Get(parse.GetRequiredValue(arch));
            CheckpointSynthesizer.Write(architecture, parse.GetRequiredValue(outDir), parse.GetValue(seed), parse.GetValue(tokenizer), output);
            output.WriteLine($"wrote {architecture.Name} (seed {parse.GetValue(seed)}) to {Path.GetFullPath(parse.GetRequiredValue(outDir))} in {watch.Elapsed.TotalSeconds:F1} s");
        }));
        return command;
    }
}
