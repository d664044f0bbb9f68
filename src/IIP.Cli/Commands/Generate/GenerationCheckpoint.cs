using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Generate;

/// <summary>
/// What `iip generate` checks before any weight is read, for one image and for a prompt set alike: the steps and the
/// guidance, a tokenizer, the image size, and the steps against the scheduler's training timesteps.
/// </summary>
public static class GenerationCheckpoint
{
    /// <summary>The opened checkpoint (the caller disposes it) and the size to generate at; bad input is an <see cref="ArgumentException"/>.</summary>
    public static (StableDiffusionCheckpoint Checkpoint, GenerationSize Size) Open(string model, string? tokenizer, CheckpointOverrides? overrides,
        int steps, float guidance, int? height, int? width)
    {
        if (steps < 1) throw new ArgumentException($"--steps {steps} must be at least 1");
        if (!float.IsFinite(guidance)) throw new ArgumentException($"--guidance {guidance} must be a finite number");
        var checkpoint = StableDiffusionCheckpoint.Open(model, tokenizer, overrides: overrides);
        try
        {
            if (checkpoint.TokenizerDirectory is null)
                throw new ArgumentException($"{checkpoint.Path}: this checkpoint carries no tokenizer (single-file checkpoints never do); " +
                                            "pass --tokenizer DIR, a folder with vocab.json and merges.txt");
            var size = GenerationSize.Resolve(height, width, checkpoint.Unet, checkpoint.Vae);
            if (steps > checkpoint.Scheduler.TrainTimesteps)
                throw new ArgumentException($"--steps {steps} exceeds the scheduler's {checkpoint.Scheduler.TrainTimesteps} training timesteps");
            return (checkpoint, size);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }
}
