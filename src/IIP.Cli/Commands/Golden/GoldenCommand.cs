using System.CommandLine;
using IIP.Detection.Golden;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Golden;

/// <summary>`iip golden`: recompute every case of a golden file and compare with its references.</summary>
public static class GoldenCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model: a diffusers folder, a single-file .safetensors checkpoint or a packed .iipw file", Required = true };
        var golden = new Option<string>("--golden") { Description = "Golden references: golden.safetensors (golden.json beside it adds the tokenizer cases)", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer folder (vocab.json, merges.txt) for checkpoints that carry none" };
        var only = new Option<string[]>("--only") { Description = "Run only the cases whose names start with these prefixes (e.g. --only unet. --only grad.)", AllowMultipleArgumentsPerToken = true };
        var device = DeviceOption.Create();
        var configs = new ModelConfigOptions();
        var command = new Command("golden",
            "Recompute the golden cases (data/golden/README.md) for a model and compare: one line per case with the max absolute error, " +
            "the relative error, the tolerance and PASS/FAIL; a case whose computation throws is ERROR with the exception, and a model this build " +
            "cannot load gets every case NOT RUN with the reason (exit code 2). Exit code 1 if any case fails or errs. " +
            "On --device cuda (fp16 storage) the cases are judged by the fp16 bounds measured for it (GoldenFp16Tolerances).")
        {
            model, golden, tokenizer, only, device,
        };
        configs.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() => Run(parse.GetValue(model)!, parse.GetValue(golden)!, parse.GetValue(tokenizer), parse.GetValue(only) ?? [], parse.GetValue(device)!,
            configs.Read(parse))));
        return command;
    }

    public static int Run(string modelPath, string goldenPath, string? tokenizerDir, IReadOnlyList<string> only, string device = "cpu",
        CheckpointOverrides? overrides = null)
    {
        var (tensorsPath, jsonPath) = GoldenRunner.FilesOf(goldenPath);
        using var references = SafetensorsFile.Open(tensorsPath);
        StableDiffusionCheckpoint? checkpoint = null;
        StableDiffusion model;
        try
        {
            checkpoint = StableDiffusionCheckpoint.Open(modelPath, tokenizerDir, overrides: overrides);
            model = new StableDiffusion(checkpoint, DeviceOption.Select(device), Program.Engine);
        }
        catch (Exception e) when (e is WeightException or NotSupportedException or IIP.Engine.Text.TokenizerLoadException)
        {
            checkpoint?.Dispose();
            // a model this build cannot load: the whole report, every case NOT RUN with the reason, then the error (exit 2)
            int count = 0;
            foreach (var result in GoldenRunner.NotRunAll(references, jsonPath, e.Message, only))
            {
                Console.WriteLine(result.Format());
                count++;
            }
            Console.WriteLine($"0 passed, 0 failed, {count} not run");
            throw;
        }
        catch
        {
            checkpoint?.Dispose();
            throw;
        }
        using var owned = checkpoint;
        // the CUDA backend stores fp16: its bounds are GoldenFp16Tolerances', the CPU's the README's fp32 ones
        var runner = new GoldenRunner(model, references, jsonPath, only);
        Console.WriteLine($"model {modelPath} ({checkpoint.Layout}), golden {tensorsPath}, backend {model.Backend.Name}, {runner.Precision} bounds");
        int failed = runner.RunAndReport(Console.Out);
        return failed > 0 ? CliErrors.Failed : CliErrors.Ok;
    }
}
