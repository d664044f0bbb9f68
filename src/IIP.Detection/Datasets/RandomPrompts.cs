using System.Text;
using System.Text.Json;

namespace IIP.Detection.Datasets;

/// <summary>
/// Wen et al.'s random prompts (diffusion_memorization, optim_utils.get_dataset "random"): k uniform in [0, 76], k distinct
/// token ids drawn uniformly from the CLIP vocabulary, decoded to text. Here the two special tokens (start and end of
/// text) are left out of the draw, since their text would be read back as plain characters, and the draw is seeded
/// (System.Random with the recipe's seed), so the same recipe gives the same prompts on every machine. Decoding follows
/// CLIP's byte-level BPE: "&lt;/w&gt;" ends a word, and each character maps back to the byte bytes_to_unicode gave it.
/// </summary>
public static class RandomPrompts
{
    private const int MaxTokens = 77;

    public static IReadOnlyList<LabelledRow> Generate(DatasetRecipe recipe, string tokenizerDirectory)
    {
        var generator = recipe.Generator ?? throw new ArgumentException($"{recipe.Name}: not a generated set");
        string vocabPath = Path.Combine(tokenizerDirectory, "vocab.json");
        if (!File.Exists(vocabPath)) throw new FileNotFoundException($"{vocabPath}: no vocab.json; --tokenizer must name a CLIP tokenizer folder");
        var tokens = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabPath))
                     ?? throw new FormatException($"{vocabPath}: empty vocabulary");
        var ordinary = tokens.Where(t => !(t.Key.StartsWith("<|", StringComparison.Ordinal) && t.Key.EndsWith("|>", StringComparison.Ordinal)))
                             .OrderBy(t => t.Value).Select(t => t.Key).ToArray();
        var byteOf = UnicodeToByte();
        var random = new Random(unchecked((int)generator.Seed));
        var rows = new List<LabelledRow>(generator.Count);
        for (int row = 0; row < generator.Count; row++)
        {
            int k = random.Next(MaxTokens);
            var picked = new HashSet<int>();
            while (picked.Count < k) picked.Add(random.Next(ordinary.Length));
            string text = Decode(picked.Select(i => ordinary[i]), byteOf);
            rows.Add(new LabelledRow(text, Memorized: false, generator.Set, recipe.Name, row));
        }
        return rows;
    }

    // CLIP's decode: join the tokens, characters -> bytes (bytes_to_unicode inverted), UTF-8 with replacement, "</w>" -> " "
    public static string Decode(IEnumerable<string> tokens, IReadOnlyDictionary<char, byte> byteOf)
    {
        // as CLIP's SimpleTokenizer.decode: bytes first, then the end-of-word marker becomes a space
        var words = string.Concat(tokens).Split("</w>");
        var decoded = words.Select(w => Encoding.UTF8.GetString(w.Select(c => byteOf.TryGetValue(c, out byte b) ? b : (byte)'?').ToArray()));
        return string.Join(' ', decoded).Trim();
    }

    /// <summary>GPT-2/CLIP bytes_to_unicode inverted: printable bytes map to themselves, the rest to 256 + n in order.</summary>
    public static Dictionary<char, byte> UnicodeToByte()
    {
        var map = new Dictionary<char, byte>();
        bool Printable(int b) => b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
        int extra = 0;
        for (int b = 0; b < 256; b++)
            map[Printable(b) ? (char)b : (char)(256 + extra++)] = (byte)b;
        return map;
    }
}
