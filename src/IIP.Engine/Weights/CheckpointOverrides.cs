using IIP.Engine.Configs;
using IIP.Engine.Scheduling;

namespace IIP.Engine.Weights;

/// <summary>
/// What a single-file checkpoint cannot say about itself, given by the user. <see cref="ConfigDirectory"/>: a folder in
/// diffusers layout whose <c>unet/config.json</c>, <c>vae/config.json</c>, <c>text_encoder/config.json</c> and
/// <c>scheduler/scheduler_config.json</c>, each where present, replace what the loader infers from the weights (head
/// counts of a model that is not SD-sized, for example; the weights are still checked against them).
/// <see cref="PredictionType"/>: <c>epsilon</c> or <c>v_prediction</c>, which no checkpoint records (SD 2.x 768-v models
/// predict v, the 512-base ones the noise); it applies to diffusers folders too, replacing their scheduler's.
/// </summary>
public sealed record CheckpointOverrides(string? ConfigDirectory = null, string? PredictionType = null)
{
    public static CheckpointOverrides None { get; } = new();

    public bool IsEmpty => ConfigDirectory is null && PredictionType is null;

    /// <summary>Throws <see cref="WeightException"/> when the config folder is given but absent (before anything is inferred).</summary>
    internal void RequireConfigDirectory()
    {
        if (ConfigDirectory is { } dir && !Directory.Exists(dir))
            throw new WeightException($"{Path.GetFullPath(dir)}: the config folder (--model-config) does not exist");
    }

    /// <summary>The inferred configs with the given ones in their place. Throws <see cref="WeightException"/> naming a bad file or value.</summary>
    internal (UNetConfig, VaeConfig, TextEncoderConfig, SchedulerConfig) Apply(string checkpoint, UNetConfig unet, VaeConfig vae, TextEncoderConfig text,
        SchedulerConfig scheduler, bool schedulerGiven)
    {
        // a diffusers folder's configs are all given; a single file's are inferred unless the config folder has them
        bool unetGiven = schedulerGiven, vaeGiven = schedulerGiven;
        if (ConfigDirectory is { } dir)
        {
            RequireConfigDirectory();
            string Part(string folder, string file) => Path.Combine(dir, folder, file);
            bool any = false;
            if (File.Exists(Part("unet", "config.json"))) (unet, any, unetGiven) = (DiffusersConfigs.ReadUNet(Part("unet", "config.json")), true, true);
            if (File.Exists(Part("vae", "config.json"))) (vae, any, vaeGiven) = (DiffusersConfigs.ReadVae(Part("vae", "config.json")), true, true);
            if (File.Exists(Part("text_encoder", "config.json"))) (text, any) = (DiffusersConfigs.ReadTextEncoder(Part("text_encoder", "config.json")), true);
            if (File.Exists(Part("scheduler", "scheduler_config.json")))
                (scheduler, any, schedulerGiven) = (DiffusersConfigs.ReadScheduler(Part("scheduler", "scheduler_config.json")), true, true);
            if (!any)
                throw new WeightException($"{Path.GetFullPath(dir)}: no unet/config.json, vae/config.json, text_encoder/config.json or scheduler/scheduler_config.json (--model-config takes a folder in diffusers layout)");
        }
        if (PredictionType is { } prediction)
        {
            if (prediction is not (DdimScheduler.Epsilon or DdimScheduler.VPrediction))
                throw new WeightException($"prediction type '{prediction}' is not one of {DdimScheduler.Epsilon}, {DdimScheduler.VPrediction}");
            scheduler = scheduler with { PredictionType = prediction };
            schedulerGiven = true;
        }
        // SD 2.x's v-prediction models are the 768 ones (2.0-v, 2.1): their native image, which a single file does not
        // record either, is 768 x 768 (latent 96), as diffusers' single-file loader takes it
        if (unet.UseLinearProjection && scheduler.PredictionType == DdimScheduler.VPrediction)
        {
            if (!unetGiven) unet = unet with { SampleSize = 96 };
            if (!vaeGiven) vae = vae with { SampleSize = 768 };
        }
        if (unet.UseLinearProjection && !schedulerGiven)
            throw new WeightException($"{checkpoint}: an SD 2.x single file does not record whether its UNet predicts the noise or v: " +
                $"give --prediction-type {DdimScheduler.VPrediction} (the 768-v models: SD 2.0-v, 2.1) or {DdimScheduler.Epsilon} (the 512-base models), " +
                "or --model-config with the model's scheduler/scheduler_config.json");
        return (unet, vae, text, scheduler);
    }
}
