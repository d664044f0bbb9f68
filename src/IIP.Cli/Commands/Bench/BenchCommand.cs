using System.CommandLine;
using System.Globalization;

namespace IIP.Cli.Commands.Bench;

/// <summary>
/// `iip bench --part gemm|conv|attention|peak|unet-ops`: times one part of the engine and reports time per op,
/// GFLOP/s and the share of this machine's measured FMA peak. One method per part (<see cref="OpBenchmarks"/>);
/// model-level parts (unet, vae, text) slot into the same switch.
/// </summary>
public static class BenchCommand
{
    public static readonly string[] Parts = ["gemm", "conv", "attention", "peak", "unet-ops", .. ModelBenchmarks.Parts];

    private static readonly Option<string> PartOption = new("--part")
    {
        Description = "what to time: " + string.Join(", ", Parts),
        Required = true,
    };
    private static readonly Option<int?> MOption = new("--m") { Description = "GEMM rows of op(A) and C (with --n and --k; default: the SD v1 suite)" };
    private static readonly Option<int?> NOption = new("--n") { Description = "GEMM columns of op(B) and C" };
    private static readonly Option<int?> KOption = new("--k") { Description = "GEMM depth" };
    private static readonly Option<bool> TransAOption = new("--trans-a") { Description = "GEMM: A is stored [K, M]" };
    private static readonly Option<bool> TransBOption = new("--trans-b") { Description = "GEMM: B is stored [N, K]" };
    private static readonly Option<string> LatentOption = new("--latent")
    {
        Description = "spatial size HxW of the conv input or attention tokens (64x64 is a 512x512 image)",
        DefaultValueFactory = _ => "64x64",
    };
    private static readonly Option<int> ChannelsOption = new("--channels") { Description = "channels (conv in = out, attention width)", DefaultValueFactory = _ => 320 };
    private static readonly Option<int> KernelOption = new("--kernel") { Description = "conv kernel size (3 or 1)", DefaultValueFactory = _ => 3 };
    private static readonly Option<int> HeadsOption = new("--heads") { Description = "attention heads", DefaultValueFactory = _ => 8 };
    private static readonly Option<int> ContextOption = new("--context")
    {
        Description = "attention keys from a context of this many tokens (77 for SD cross-attention); 0 = self-attention",
        DefaultValueFactory = _ => 0,
    };
    private static readonly Option<int> BatchOption = new("--batch") { Description = "batch size (unet-ops and the model parts; the guidance step is --batch 2)", DefaultValueFactory = _ => 1 };
    private static readonly Option<bool> ByShapeOption = new("--by-shape") { Description = "unet-ops: one line per op kind and output shape, not per kind" };
    private static readonly Option<int> RepeatOption = new("--repeat") { Description = "timed runs (the best is reported)", DefaultValueFactory = _ => 5 };
    private static readonly Option<string?> ModelOption = new("--model") { Description = "model for --part unet|vae-encode|vae-decode|text (e.g. a folder from `weight-convert synth --arch sd-v1.4`)" };
    private static readonly Option<string> DeviceOpt = DeviceOption.Create();
    private static readonly Option<int> WarmupOption = new("--warmup") { Description = "untimed runs first", DefaultValueFactory = _ => 1 };

    public static Command Create()
    {
        var command = new Command("bench", "Time engine parts on this machine: ms per op, GFLOP/s, % of the measured FMA peak.");
        foreach (var option in new Option[] { PartOption, MOption, NOption, KOption, TransAOption, TransBOption, LatentOption,
                     ChannelsOption, KernelOption, HeadsOption, ContextOption, BatchOption, ByShapeOption, ModelOption, DeviceOpt, RepeatOption, WarmupOption })
            command.Options.Add(option);
        command.SetAction(Execute);
        return command;
    }

    private static int Execute(ParseResult parse)
    {
        var output = Console.Out;
        string part = parse.GetValue(PartOption)!.ToLowerInvariant();
        int repeat = parse.GetValue(RepeatOption), warmup = parse.GetValue(WarmupOption), batch = parse.GetValue(BatchOption);
        if (repeat < 1 || warmup < 0 || batch < 1)
        {
            Console.Error.WriteLine($"bench: --repeat {repeat}, --warmup {warmup}, --batch {batch}: need --repeat >= 1, --warmup >= 0, --batch >= 1");
            return 2;
        }
        if (!Parts.Contains(part))
        {
            Console.Error.WriteLine($"bench: unknown --part '{part}'; expected one of {string.Join(", ", Parts)}");
            return 2;
        }
        if (!TryParseLatent(parse.GetValue(LatentOption)!, out int height, out int width))
        {
            Console.Error.WriteLine($"bench: --latent '{parse.GetValue(LatentOption)}' is not HxW (e.g. 64x64)");
            return 2;
        }
        var bench = new OpBenchmarks(output, warmup, repeat);
        bench.PrintMachine();
        foreach (string line in Program.Engine.Describe()) output.WriteLine(line);
        switch (part)
        {
            case "peak":
                bench.Peak();
                break;
            case "gemm":
                int? m = parse.GetValue(MOption), n = parse.GetValue(NOption), k = parse.GetValue(KOption);
                if (m is null && n is null && k is null)
                    bench.GemmSuite();
                else if (m is > 0 && n is > 0 && k is > 0)
                    bench.Gemm(m.Value, n.Value, k.Value, parse.GetValue(TransAOption), parse.GetValue(TransBOption));
                else
                {
                    Console.Error.WriteLine("bench: --part gemm needs all of --m, --n, --k (positive), or none for the SD v1 suite");
                    return 2;
                }
                break;
            case "conv":
                int kernel = parse.GetValue(KernelOption);
                if (kernel is not (1 or 3))
                {
                    Console.Error.WriteLine($"bench: --kernel {kernel} not supported; use 3 or 1");
                    return 2;
                }
                bench.Conv(parse.GetValue(ChannelsOption), height, width, kernel);
                break;
            case "attention":
                bench.Attention(parse.GetValue(ChannelsOption), height * width, parse.GetValue(HeadsOption), parse.GetValue(ContextOption));
                break;
            case "unet-ops":
                if (height % 8 != 0 || width % 8 != 0)
                {
                    Console.Error.WriteLine($"bench: --latent {height}x{width}: the UNet needs multiples of 8");
                    return 2;
                }
                bench.UNetOps(batch, height, width, parse.GetValue(ByShapeOption));
                break;
            default:
                if (parse.GetValue(ModelOption) is not { } modelPath)
                {
                    Console.Error.WriteLine($"bench: --part {part} needs --model PATH");
                    return 2;
                }
                return CliErrors.Guard(() =>
                {
                    new ModelBenchmarks(output, bench, warmup, repeat).Run(part, modelPath, batch, height, width, parse.GetValue(DeviceOpt)!);
                    return 0;
                });
        }
        return 0;
    }

    internal static bool TryParseLatent(string text, out int height, out int width)
    {
        height = width = 0;
        var parts = text.ToLowerInvariant().Split('x');
        return parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out height)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out width)
            && height > 0 && width > 0;
    }
}
