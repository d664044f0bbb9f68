using System.CommandLine;
using IIP.Engine.Scheduling;
using IIP.Engine.Weights;

namespace IIP.Cli;

/// <summary>
/// `--model-config DIR` and `--prediction-type epsilon|v_prediction`: what a single-file checkpoint cannot say about
/// itself (<see cref="CheckpointOverrides"/>), for every verb that opens a model.
/// </summary>
public sealed class ModelConfigOptions
{
    public Option<string?> ConfigDirectory { get; } = new("--model-config")
    {
        Description = "configs for a single-file checkpoint: a folder in diffusers layout (unet/config.json, vae/config.json, text_encoder/config.json, " +
                      "scheduler/scheduler_config.json, each optional) that replaces what is inferred from the weights",
        HelpName = "DIR",
    };

    public Option<string?> PredictionType { get; } = new("--prediction-type")
    {
        Description = $"what the UNet predicts, which single files do not record: {DdimScheduler.Epsilon} (SD v1, SD 2.x 512-base) or " +
                      $"{DdimScheduler.VPrediction} (SD 2.x 768-v: 2.0-v, 2.1); required for SD 2.x single files without --model-config",
        HelpName = "TYPE",
    };

    public ModelConfigOptions() => PredictionType.AcceptOnlyFromAmong(DdimScheduler.Epsilon, DdimScheduler.VPrediction);

    public void AddTo(Command command)
    {
        command.Options.Add(ConfigDirectory);
        command.Options.Add(PredictionType);
    }

    public CheckpointOverrides Read(ParseResult parse) => new(parse.GetValue(ConfigDirectory), parse.GetValue(PredictionType));
}
