using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace IIP.Engine.Text;

/// <summary>
/// CLIP's byte-level BPE tokenizer as Stable Diffusion v1 uses it: every prompt becomes exactly
/// <see cref="ContextLength"/> ids, <c>[BOS] + first 75 BPE ids + [EOS]</c>, padded with the pad token of the folder's
/// <c>tokenizer_config.json</c> (SD v1's is <c>&lt;|endoftext|&gt;</c>, the EOS; SD 2.x's is <c>!</c>, id 0), EOS where the
/// folder has no such file.
/// </summary>
/// <remarks>
/// The merges are done by Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/> configured as OpenAI
/// CLIP's simple_tokenizer.py: byte-level alphabet, "&lt;/w&gt;" appended to the last symbol of each
/// word, the pre-tokenizer regex below, and <see cref="ClipTextNormalizer"/> (ftfy subset, html
/// unescape, whitespace collapse, lower case). The two special tokens are split out of the text before
/// the word pattern runs and map to their own ids, as in Hugging Face's CLIPTokenizer that diffusers
/// uses (OpenAI's simple_tokenizer only sees them where the pattern starts a match, so it splits
/// ",&lt;|endoftext|&gt;" into ",&lt;|", "endoftext", "|&gt;").
/// Checked against golden.json and against tests/IIP.Engine.Tests/Text/clip_bpe_reference.py.
/// </remarks>
public sealed class ClipTokenizer
{
    /// <summary>Positions of SD v1's text encoder.</summary>
    public const int ContextLength = 77;

    public const string StartOfTextToken = "<|startoftext|>";
    public const string EndOfTextToken = "<|endoftext|>";

    /// <summary>CLIP's word splitter (simple_tokenizer.py `pat`, re.IGNORECASE).</summary>
    private const string PreTokenizerPattern =
        @"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

    private readonly BpeTokenizer _bpe;

    public int StartOfTextId { get; }

    public int EndOfTextId { get; }

    /// <summary>The pad id: SD v1 pads with the end-of-text id, SD 2.x with "!" (id 0).</summary>
    public int PadId { get; }

    private ClipTokenizer(BpeTokenizer bpe, int startOfTextId, int endOfTextId, int padId)
    {
        _bpe = bpe;
        StartOfTextId = startOfTextId;
        EndOfTextId = endOfTextId;
        PadId = padId;
    }

    /// <summary>Reads <c>vocab.json</c> and <c>merges.txt</c> from a tokenizer folder (a diffusers model's <c>tokenizer/</c>).</summary>
    public static ClipTokenizer FromDirectory(string dir)
    {
        if (!Directory.Exists(dir))
            throw new TokenizerLoadException($"tokenizer folder {dir} does not exist");
        string vocabPath = Path.Combine(dir, "vocab.json");
        string mergesPath = Path.Combine(dir, "merges.txt");
        foreach (string path in new[] { vocabPath, mergesPath })
            if (!File.Exists(path))
                throw new TokenizerLoadException($"tokenizer file {path} is missing (a CLIP tokenizer folder holds vocab.json and merges.txt)");

        Dictionary<string, int> vocab = ReadVocab(vocabPath);
        List<string> merges = ReadMerges(mergesPath);
        int startId = SpecialId(vocab, StartOfTextToken, vocabPath);
        int endId = SpecialId(vocab, EndOfTextToken, vocabPath);
        var specials = new Dictionary<string, int> { [StartOfTextToken] = startId, [EndOfTextToken] = endId };

        var options = new BpeOptions(vocab)
        {
            Merges = merges,
            SpecialTokens = specials,
            Normalizer = ClipTextNormalizer.Instance,
            PreTokenizer = new RegexPreTokenizer(
                new Regex(PreTokenizerPattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled),
                specials),
            EndOfWordSuffix = "</w>",
            ByteLevel = true,
        };
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(options);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new TokenizerLoadException($"tokenizer files in {dir} are inconsistent: {e.Message}", e);
        }
        return new ClipTokenizer(bpe, startId, endId, PadIdOf(Path.Combine(dir, "tokenizer_config.json"), vocab, endId));
    }

    // tokenizer_config.json's pad_token (a string, or an object with "content" in newer files) as a vocabulary id; EOS
    // when the file or the key is absent
    private static int PadIdOf(string configPath, Dictionary<string, int> vocab, int endId)
    {
        if (!File.Exists(configPath)) return endId;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(configPath));
            if (!json.RootElement.TryGetProperty("pad_token", out var pad) || pad.ValueKind == System.Text.Json.JsonValueKind.Null) return endId;
            string? token = pad.ValueKind switch
            {
                System.Text.Json.JsonValueKind.String => pad.GetString(),
                System.Text.Json.JsonValueKind.Object when pad.TryGetProperty("content", out var content) && content.ValueKind == System.Text.Json.JsonValueKind.String => content.GetString(),
                _ => null,
            };
            if (token is null) throw new TokenizerLoadException($"{configPath}: pad_token is {pad.GetRawText()}, not a token");
            // the vocabulary stores single characters with the end-of-word suffix where they end a word ("!</w>" is 256, "!" is 0)
            return vocab.TryGetValue(token, out int id) ? id
                : throw new TokenizerLoadException($"{configPath}: pad_token '{token}' is not in the vocabulary");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new TokenizerLoadException($"{configPath} is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>The BPE ids of <paramref name="text"/> without BOS, EOS, truncation or padding.</summary>
    public IReadOnlyList<int> EncodeUnpadded(string text) => _bpe.EncodeToIds(text);

    /// <summary>Exactly 77 ids: BOS, the first 75 BPE ids of the text, EOS, then EOS padding.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        IReadOnlyList<int> pieces = EncodeUnpadded(text);
        var ids = new int[ContextLength];
        Array.Fill(ids, PadId);
        ids[0] = StartOfTextId;
        int kept = Math.Min(pieces.Count, ContextLength - 2);
        for (int i = 0; i < kept; i++)
            ids[1 + i] = pieces[i];
        ids[1 + kept] = EndOfTextId;
        return ids;
    }

    /// <summary><see cref="Encode"/> for each text, in order.</summary>
    public IReadOnlyList<int[]> EncodeBatch(IEnumerable<string> texts) => texts.Select(Encode).ToArray();

    private static Dictionary<string, int> ReadVocab(string path)
    {
        try
        {
            // Read through JsonDocument rather than JsonSerializer: no reflection, so trimmed builds (the GPU runner) load it too.
            using var stream = File.OpenRead(path);
            using var doc = JsonDocument.Parse(stream);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new TokenizerLoadException($"tokenizer file {path} holds {doc.RootElement.ValueKind} instead of a token -> id object");
            var vocab = new Dictionary<string, int>();
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                    throw new TokenizerLoadException($"tokenizer file {path}: token '{entry.Name}' maps to {entry.Value.GetRawText()}, not an integer id");
                vocab[entry.Name] = id;
            }
            return vocab;
        }
        catch (JsonException e)
        {
            throw new TokenizerLoadException($"tokenizer file {path} is not a JSON object of token -> id: {e.Message}", e);
        }
    }

    /// <summary>merges.txt: an optional "#version" line, then one "left right" pair per line, highest priority first.</summary>
    private static List<string> ReadMerges(string path)
    {
        var merges = new List<string>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)))
                continue;
            string[] parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new TokenizerLoadException($"tokenizer file {path} line {lineNumber}: expected two symbols separated by one space, got \"{line}\"");
            merges.Add(line);
        }
        return merges;
    }

    private static int SpecialId(Dictionary<string, int> vocab, string token, string vocabPath) =>
        vocab.TryGetValue(token, out int id)
            ? id
            : throw new TokenizerLoadException($"tokenizer file {vocabPath} has no {token} token");
}
