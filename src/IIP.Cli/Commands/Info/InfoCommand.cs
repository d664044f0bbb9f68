using System.CommandLine;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Info;

/// <summary>`iip info`: what a checkpoint is: layout, architecture, stored dtypes and parameter counts per part.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Diffusers folder, single-file LDM .safetensors, or packed .iipw file.", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer folder (vocab.json, merges.txt); single-file checkpoints carry none." };
        var variant = new Option<string?>("--variant") { Description = "Diffusers weights variant, e.g. fp16 (default: plain files, then fp16)." };
        var configs = new ModelConfigOptions();
        var command = new Command("info", "Show a checkpoint's layout, architecture, stored dtypes and parameter counts (validates every tensor's name and shape).")
        {
            model, tokenizer, variant,
        };
        configs.AddTo(command);
        command.SetAction(parse =>
        {
            var output = parse.InvocationConfiguration.Output;
            try
            {
                using var checkpoint = StableDiffusionCheckpoint.Open(parse.GetRequiredValue(model), parse.GetValue(tokenizer), parse.GetValue(variant), configs.Read(parse));
                Print(checkpoint, output);
                return 0;
            }
            catch (Exception e) when (e is WeightException or IOException or UnauthorizedAccessException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return CliErrors.BadInput;
            }
        });
        return command;
    }

    public static void Print(StableDiffusionCheckpoint checkpoint, TextWriter output)
    {
        output.WriteLine($"model:        {checkpoint.Path}");
        output.WriteLine($"layout:       {checkpoint.Layout}");
        output.WriteLine($"tokenizer:    {checkpoint.TokenizerDirectory ?? "(none: pass --tokenizer DIR)"}");
        output.WriteLine($"scheduler:    {ConfigDescriptions.Describe(checkpoint.Scheduler)}");
        long total = 0;
        foreach (var part in ModelParts.All)
        {
            var weights = checkpoint.Weights(part);
            var infos = weights.Names.Select(weights.Info).ToList();
            long parameters = infos.Sum(i => IIP.Engine.Tensors.Tensor.ElementCount(i.Shape));
            total += parameters;
            string dtypes = string.Join(", ", infos.GroupBy(i => i.DType).OrderBy(g => g.Key).Select(g => $"{g.Key} x{g.Count()}"));
            string architecture = part switch
            {
                ModelPart.Unet => ConfigDescriptions.Describe(checkpoint.Unet),
                ModelPart.Vae => ConfigDescriptions.Describe(checkpoint.Vae),
                _ => ConfigDescriptions.Describe(checkpoint.TextEncoder),
            };
            output.WriteLine($"{part.FolderName() + ":",-13} {architecture}");
            output.WriteLine($"              {infos.Count} tensors, {parameters:N0} parameters, dtypes {dtypes}");
            output.WriteLine($"              from {weights.Origin}");
        }
        output.WriteLine($"total:        {total:N0} parameters");
        foreach (string line in Program.Engine.Describe()) output.WriteLine(line);
    }
}
