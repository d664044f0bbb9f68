using System.CommandLine;
using IIP.Detection.Methods;
using IIP.Detection.Methods.FitGain;
using IIP.Detection.Methods.Baselines;

namespace IIP.Cli.Commands.Scan;

/// <summary>The baselines' options as command-line options (defaults from each options record).</summary>
public sealed class BaselineOptionSet
{
    public Option<int> OriSeeds { get; } = new("--ori-seeds") { Description = "ori-prompt: generations per caption", DefaultValueFactory = _ => new OriPromptOptions().Seeds };
    public Option<int> OriSteps { get; } = new("--ori-steps") { Description = "ori-prompt: DDIM steps per generation", DefaultValueFactory = _ => new OriPromptOptions().Steps };
    public Option<int[]> LossTimesteps { get; } = new("--loss-timesteps") { Description = "denoising-loss: timesteps", DefaultValueFactory = _ => [.. new DenoisingLossOptions().Timesteps], AllowMultipleArgumentsPerToken = true };
    public Option<int[]> PiaTimesteps { get; } = new("--pia-timesteps") { Description = "pia: timesteps", DefaultValueFactory = _ => [.. new PiaOptions().Timesteps], AllowMultipleArgumentsPerToken = true };
    public Option<int> SecMiTimestep { get; } = new("--secmi-timestep") { Description = "secmi: t_SEC", DefaultValueFactory = _ => new SecMiOptions().Timestep };
    public Option<int[]> FitTimesteps { get; } = new("--fit-timesteps") { Description = "fit-gain: timesteps the image is noised to", DefaultValueFactory = _ => [.. new FitGainOptions().Timesteps], AllowMultipleArgumentsPerToken = true };
    public Option<int> FitIterations { get; } = new("--fit-iterations") { Description = "fit-gain: Adam steps on the prompt embedding", DefaultValueFactory = _ => new FitGainOptions().Iterations };
    public Option<double> FitLearningRate { get; } = new("--fit-lr") { Description = "fit-gain: Adam learning rate", DefaultValueFactory = _ => new FitGainOptions().LearningRate };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { OriSeeds, OriSteps, LossTimesteps, PiaTimesteps, SecMiTimestep, FitTimesteps, FitIterations, FitLearningRate })
            command.Options.Add(option);
    }

    public BaselineSettings Read(ParseResult parse, int seed) => new(
        new OriPromptOptions { Seeds = parse.GetValue(OriSeeds), Steps = parse.GetValue(OriSteps), Seed = seed },
        new DenoisingLossOptions { Timesteps = parse.GetValue(LossTimesteps)!, Seed = seed },
        new PiaOptions { Timesteps = parse.GetValue(PiaTimesteps)! },
        new SecMiOptions { Timestep = parse.GetValue(SecMiTimestep) },
        new FitGainOptions { Timesteps = parse.GetValue(FitTimesteps)!, Iterations = parse.GetValue(FitIterations), LearningRate = parse.GetValue(FitLearningRate), Seed = seed });
}

/// <summary>The options of every method beside IIP: the baselines and the fit gain.</summary>
public sealed record BaselineSettings(OriPromptOptions OriPrompt, DenoisingLossOptions DenoisingLoss, PiaOptions Pia, SecMiOptions SecMi, FitGainOptions FitGain)
{
    public static BaselineSettings Defaults(int seed) => new(
        new OriPromptOptions { Seed = seed }, new DenoisingLossOptions { Seed = seed }, new PiaOptions(), new SecMiOptions(), new FitGainOptions { Seed = seed });
}
