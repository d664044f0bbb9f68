using System.CommandLine;
using IIP.Engine.Text;

namespace IIP.Cli.Commands.Tokenize;

/// <summary>
/// <c>iip tokenize [--model PATH | --tokenizer DIR] TEXT...</c>: prints the 77 CLIP token ids Stable
/// Diffusion v1 feeds its text encoder for TEXT, space-separated on one line.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model")
        {
            Description = "A diffusers model folder; its tokenizer/ subfolder is used. Single-file checkpoints carry no tokenizer: use --tokenizer.",
            HelpName = "PATH",
        };
        var tokenizer = new Option<string?>("--tokenizer")
        {
            Description = "A CLIP tokenizer folder holding vocab.json and merges.txt.",
            HelpName = "DIR",
        };
        var text = new Argument<string[]>("text")
        {
            Description = "The prompt; several arguments are joined with spaces. Quote it to keep it one argument.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("tokenize",
            "Print the 77 CLIP token ids of a prompt as Stable Diffusion v1 sees it, space-separated on one line: " +
            "start-of-text (49406), the first 75 BPE tokens of the cleaned, lower-cased text, end-of-text (49407), " +
            "then end-of-text padding. Exit code 2 on bad input.")
        {
            model, tokenizer, text,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
            Run(parse.GetValue(model), parse.GetValue(tokenizer), string.Join(' ', parse.GetValue(text) ?? []))));
        return command;
    }

    public static int Run(string? modelPath, string? tokenizerDir, string text)
    {
        var tokenizer = ClipTokenizer.FromDirectory(TokenizerFolder(modelPath, tokenizerDir));
        Console.WriteLine(string.Join(' ', tokenizer.Encode(text)));
        return CliErrors.Ok;
    }

    /// <summary>The folder --tokenizer names, or --model's tokenizer/ subfolder.</summary>
    /// <exception cref="ArgumentException">Neither or both options, a single-file checkpoint, or a model path without a tokenizer folder.</exception>
    public static string TokenizerFolder(string? modelPath, string? tokenizerDir)
    {
        if (modelPath is not null && tokenizerDir is not null)
            throw new ArgumentException("pass either --model or --tokenizer, not both");
        if (tokenizerDir is not null)
            return tokenizerDir;
        if (modelPath is null)
            throw new ArgumentException("pass --model PATH (a diffusers folder) or --tokenizer DIR (a folder with vocab.json and merges.txt)");
        if (File.Exists(modelPath))
            throw new ArgumentException($"{modelPath}: single-file checkpoints carry no tokenizer; pass --tokenizer DIR");
        if (!Directory.Exists(modelPath))
            throw new ArgumentException($"{modelPath}: model path does not exist");
        string folder = Path.Combine(modelPath, "tokenizer");
        if (!Directory.Exists(folder))
            throw new ArgumentException($"{modelPath}: no tokenizer/ subfolder in this model folder; pass --tokenizer DIR");
        return folder;
    }
}
