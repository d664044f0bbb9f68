using System.CommandLine;

namespace IIP.WeightConvert;

public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("weight-convert: read Stable Diffusion v1 checkpoints, write the engine's packed fp16 weight file, synthesize SD-v1.4-shaped random checkpoints.");
        root.Subcommands.Add(SynthCommand.Create());
        root.Subcommands.Add(PackCommand.Create());
        return root;
    }
}
