using IIP.Engine.Text;

namespace IIP.Engine.Tests.Text;

/// <summary>The pad token comes from the folder's tokenizer_config.json: SD v1 pads with EOS, SD 2.x with "!" (id 0).</summary>
public class ClipTokenizerPadTests
{
    [Fact]
    public void Sd1PadsWithTheEndOfTextAndSd2WithTheExclamationMark()
    {
        var v1 = ClipTokenizer.FromDirectory(Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"));
        var v2 = ClipTokenizer.FromDirectory(Path.Combine(TestPaths.TinySd2Diffusers, "tokenizer"));
        Assert.Equal(v1.EndOfTextId, v1.PadId);
        Assert.Equal(0, v2.PadId);   // "!" in the vocabulary (without the end-of-word suffix)
        // [BOS] a photo [EOS] then padding
        Assert.Equal([49406, 320, 1125, 49407, 49407], v1.Encode("a photo")[..5]);
        Assert.Equal([49406, 320, 1125, 49407, 0], v2.Encode("a photo")[..5]);
    }

    [Fact]
    public void APadTokenOutsideTheVocabularyIsAnErrorNamingTheFile()
    {
        string dir = TestPaths.NewTempDir("tokenizer-pad");
        foreach (string file in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(TestPaths.TinySd2Diffusers, "tokenizer", file), Path.Combine(dir, file));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"pad_token": {"content": "<|not-a-token|>"}}""");
        var e = Assert.Throws<TokenizerLoadException>(() => ClipTokenizer.FromDirectory(dir));
        Assert.Contains("tokenizer_config.json: pad_token '<|not-a-token|>' is not in the vocabulary", e.Message);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"pad_token": {"content": "!"}}""");
        Assert.Equal(0, ClipTokenizer.FromDirectory(dir).PadId);   // the object form of newer files
    }
}
