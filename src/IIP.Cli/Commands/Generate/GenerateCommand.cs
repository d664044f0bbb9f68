using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using IIP.Engine.Imaging;
using IIP.Engine.Pipelines;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Cli.Commands.Generate;

/// <summary>
/// `iip generate`: text-to-image with DDIM (eta 0) and classifier-free guidance, from seeded Gaussian noise;
/// optionally prints Wen et al.'s per-step TCNP, the memorization signal of the prompt.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "SD v1.x or 2.x model: a diffusers folder, a single-file .safetensors checkpoint or a packed .iipw file", Required = true, HelpName = "PATH" };
        var prompt = new Option<string?>("--prompt") { Description = "the text to generate an image of (or --prompts)", HelpName = "TEXT" };
        var prompts = new Option<string?>("--prompts")
        {
            Description = "a labelled prompt manifest (JSONL: \"prompt\" or \"caption\", \"memorized\"; as `iip datasets fetch` writes): generate " +
                          "--per-prompt images of every prompt into the folder --out, with the labelled manifest OUT/generated.jsonl",
            HelpName = "MANIFEST",
        };
        var perPrompt = new Option<string>("--per-prompt")
        {
            Description = "with --prompts: images per prompt, or a comma-separated list (4,8,16: the paper's 2K, 4K and 8K images from 500 " +
                          "prompts): the largest is generated and OUT/generated-per-prompt-N.jsonl lists the first N of each prompt",
            DefaultValueFactory = _ => "4", HelpName = "N[,N...]",
        };
        var batch = new Option<int>("--batch") { Description = "with --prompts: images per UNet batch (each keeps its own prompt and seed)", DefaultValueFactory = _ => 4 };
        var negative = new Option<string>("--negative-prompt") { Description = "text to steer away from: its embedding is the unconditional branch of guidance (default: the empty prompt)", DefaultValueFactory = _ => "", HelpName = "TEXT" };
        var seed = new Option<long>("--seed") { Description = "seed of the initial noise latent; the same seed, options and model give a byte-identical PNG on the CPU (with --prompts: sample k of prompt i uses seed + 1000 i + k, recorded per image)", DefaultValueFactory = _ => 0 };
        var steps = new Option<int>("--steps") { Description = "DDIM denoising steps on the 'leading' grid (50: t = 981, 961, ..., 1)", DefaultValueFactory = _ => 50 };
        var guidance = new Option<float>("--guidance") { Description = "classifier-free guidance scale g: eps = eps_uncond + g (eps_cond - eps_uncond); 1 disables guidance", DefaultValueFactory = _ => 7.5f };
        var height = new Option<int?>("--height") { Description = "image height in pixels, a multiple of the model's VAE factor x UNet downsampling (64 for SD v1; default: the model's native size, 512 for SD v1)", HelpName = "H" };
        var width = new Option<int?>("--width") { Description = "image width in pixels, same rule as --height (default: the model's native size)", HelpName = "W" };
        var output = new Option<string?>("--out") { Description = "PNG file to write (its folder is created; default image.png), or with --prompts the output folder", HelpName = "PATH" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer folder (vocab.json, merges.txt); needed for single-file checkpoints, which carry none", HelpName = "DIR" };
        var tcnp = new Option<bool>("--tcnp") { Description = "also print the TCNP of every step, ||eps_cond - eps_uncond||_2 over the latent (Wen et al. 2024), and its mean: higher means the prompt is more likely a memorized one" };
        var device = DeviceOption.Create();
        var configs = new ModelConfigOptions();
        var command = new Command("generate",
            "Generate an image from a prompt: Gaussian noise from --seed, DDIM sampling with classifier-free guidance, VAE decode, PNG. " +
            "Prints the output path and the seconds taken; progress per step goes to stderr. With --prompts, generate a labelled prompt " +
            "set in batches (the IIP paper's generated-image setting), resuming where a killed run stopped. Exit code 2 on bad input, " +
            "130 when interrupted (the images so far are kept).")
        {
            model, prompt, prompts, perPrompt, batch, negative, seed, steps, guidance, height, width, output, tokenizer, tcnp, device,
        };
        configs.AddTo(command);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            string? text = parse.GetValue(prompt), manifest = parse.GetValue(prompts);
            if ((text is null) == (manifest is null)) throw new ArgumentException("give either --prompt TEXT (one image) or --prompts MANIFEST (a labelled prompt set)");
            if (manifest is null && (parse.GetResult(perPrompt) is { Implicit: false } || parse.GetResult(batch) is { Implicit: false }))
                throw new ArgumentException("--per-prompt and --batch are for --prompts MANIFEST; one --prompt makes one image");
            if (manifest is not null)
            {
                string outDir = parse.GetValue(output) ?? throw new ArgumentException("--prompts needs --out DIR, the folder for the images and their manifest");
                if (parse.GetValue(negative) is { Length: > 0 }) throw new ArgumentException("--negative-prompt is for one image; a prompt set is generated with the empty prompt as the unconditional branch, as the paper does");
                if (parse.GetValue(tcnp)) throw new ArgumentException("--tcnp prints one prompt's steps; with --prompts, score the images with `iip scan --method ori-prompt`");
                return PromptSetRun.Run(new PromptSetRun.Settings(parse.GetValue(model)!, manifest, PromptSetRun.ParseCounts(parse.GetValue(perPrompt)!),
                    outDir, parse.GetValue(seed), parse.GetValue(steps), parse.GetValue(guidance), parse.GetValue(batch), parse.GetValue(height),
                    parse.GetValue(width), parse.GetValue(tokenizer), parse.GetValue(device)!, configs.Read(parse)));
            }
            return Run(new GenerateSettings(
                parse.GetValue(model)!, text!, parse.GetValue(negative) ?? "", parse.GetValue(seed), parse.GetValue(steps),
                parse.GetValue(guidance), parse.GetValue(height), parse.GetValue(width), parse.GetValue(output) ?? "image.png", parse.GetValue(tokenizer), parse.GetValue(tcnp), parse.GetValue(device)!,
                configs.Read(parse)));
        }));
        return command;
    }

    public sealed record GenerateSettings(string Model, string Prompt, string NegativePrompt, long Seed, int Steps, float Guidance,
        int? Height, int? Width, string Out, string? Tokenizer, bool PrintTcnp, string Device = "cpu", CheckpointOverrides? Overrides = null);

    public static int Run(GenerateSettings s)
    {
        var watch = Stopwatch.StartNew();
        // Everything that can be checked from the configs is, before the weights are read.
        var (checkpoint, size) = GenerationCheckpoint.Open(s.Model, s.Tokenizer, s.Overrides, s.Steps, s.Guidance, s.Height, s.Width);
        using var opened = checkpoint;

        var sd = new StableDiffusion(checkpoint, DeviceOption.Select(s.Device), Program.Engine);
        if (sd.Vae.DownsampleFactor != size.VaeFactor || sd.Unet.DownsampleFactor != size.UnetFactor)
            throw new InvalidOperationException($"{checkpoint.Path}: loaded model scales by VAE {sd.Vae.DownsampleFactor} x UNet {sd.Unet.DownsampleFactor}, " +
                                                $"its configs by {size.VaeFactor} x {size.UnetFactor}");
        int[] latentShape = [1, sd.Unet.Config.InChannels, size.LatentHeight, size.LatentWidth];
        string latentText = string.Join(", ", latentShape);
        Console.Error.WriteLine(Invariant($"model {checkpoint.Path} ({checkpoint.Layout}), backend {sd.Backend.Name}; {size.Width}x{size.Height} px (latent [{latentText}]), {s.Steps} steps, guidance {s.Guidance}, seed {s.Seed}"));

        var uncond = sd.Backend.ToHost(sd.EncodePrompts([s.NegativePrompt]));   // [1, 77, D]
        var cond = sd.Backend.ToHost(sd.EncodePrompts([s.Prompt]));             // [1, 77, D]
        var noise = new GaussianNoise(s.Seed).Sample(latentShape);              // x_T ~ N(0, I); DDIM's init_noise_sigma is 1
        var timesteps = sd.Scheduler.Timesteps(s.Steps);
        var generated = sd.Sampler.GuidedSample(noise, timesteps, sd.Scheduler.StepRatio(s.Steps), uncond, cond, s.Guidance, new StepProgress(timesteps));
        var (latent, tcnp) = (generated.Latents, generated.Tcnp.Select(step => step[0]).ToList());
        var image = ImageTensors.ToImage(sd.DecodeLatent(latent));             // [1, 3, H, W] in [-1, 1] -> 8-bit RGB

        string outPath = Path.GetFullPath(s.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        ImageFile.SavePng(image, outPath);

        if (s.PrintTcnp)
        {
            for (int i = 0; i < tcnp.Count; i++)
                Console.WriteLine(Invariant($"tcnp step {i + 1} t={timesteps[i]} {tcnp[i]:F6}"));
            Console.WriteLine(Invariant($"tcnp mean {tcnp.Average():F6} over {tcnp.Count} steps"));
        }
        Console.WriteLine(Invariant($"wrote {outPath} ({size.Width}x{size.Height} px, {s.Steps} steps, guidance {s.Guidance}, seed {s.Seed}) in {watch.Elapsed.TotalSeconds:F1} s"));
        return CliErrors.Ok;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
