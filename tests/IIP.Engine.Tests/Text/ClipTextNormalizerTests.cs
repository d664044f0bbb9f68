using IIP.Engine.Text;

namespace IIP.Engine.Tests.Text;

public sealed class ClipTextNormalizerTests
{
    [Theory]
    // whitespace_clean: every run of Unicode whitespace is one space, ends stripped
    [InlineData("  A  Photo\t\nOF\u00a0a\u2003CAT\u3000 ", "a photo of a cat")]
    // U+001C..U+001F are whitespace to Python but ftfy removes them as control characters first
    [InlineData("x\u001fy", "xy")]
    [InlineData("", "")]
    [InlineData(" \t ", "")]
    // html.unescape twice
    [InlineData("fish &amp;amp; chips &lt;3", "fish & chips <3")]
    // ftfy uncurl_quotes, fix_latin_ligatures, fix_character_width, remove_control_chars
    [InlineData("\u2018it\u2019s\u201d \u201cok\u201d", "'it's\" \"ok\"")]
    [InlineData("\ufb01ne \ufb03x \u01c6", "fine ffix d\u017e")]
    [InlineData("\u0149", "'n")]
    [InlineData("\uff21\uff22\uff43\uff11\uff01", "abc1!")]
    [InlineData("a\u0000b\u007fc\ufeffd", "abcd")]
    // lower case beyond ASCII, composed letters untouched
    [InlineData("Caf\u00c9 \u03a9\u039c\u0395\u0393\u0391", "caf\u00e9 \u03c9\u03bc\u03b5\u03b3\u03b1")]
    public void CleanMatchesClipBasicAndWhitespaceClean(string input, string expected)
    {
        string actual = ClipTextNormalizer.Clean(input);
        Assert.True(expected == actual,
            $"input \"{Escape(input)}\": expected \"{Escape(expected)}\", got \"{Escape(actual)}\"");
    }

    private static string Escape(string s) =>
        string.Concat(s.Select(c => c is >= ' ' and <= '~' ? c.ToString() : $"\\u{(int)c:x4}"));
}
