using System.Net;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace IIP.Engine.Text;

/// <summary>
/// The text clean-up OpenAI CLIP applies before byte-level BPE (clip/simple_tokenizer.py):
/// <c>whitespace_clean(basic_clean(text)).lower()</c>, where basic_clean is ftfy.fix_text, then
/// html.unescape twice, then strip, and whitespace_clean collapses every whitespace run to one space.
/// </summary>
/// <remarks>
/// Of ftfy.fix_text's default steps this implements, in ftfy's order, the ones that change ordinary
/// prompts: Latin ligatures and full-width ASCII to plain letters (fix_latin_ligatures,
/// fix_character_width), curly quotes to straight ones (uncurl_quotes), removal of control characters
/// (remove_control_chars), then NFC. These mappings are tables here, so they hold in every
/// globalization mode. The final NFC uses <see cref="string.Normalize(NormalizationForm)"/>, which needs
/// ICU: with InvariantGlobalization (this repository's default) it leaves text unchanged, so only
/// text that is already composed (nearly all typed text) tokenizes exactly as CLIP does.
/// ftfy's mojibake repair (fix_encoding) is not reproduced; valid Unicode passes it unchanged.
/// </remarks>
public sealed class ClipTextNormalizer : Normalizer
{
    public static ClipTextNormalizer Instance { get; } = new();

    public override string Normalize(string original) => Clean(original);

    public override string Normalize(ReadOnlySpan<char> original) => Clean(original.ToString());

    /// <summary>The cleaned, lower-cased text CLIP's BPE sees.</summary>
    public static string Clean(string text)
    {
        string fixedText = FixText(text);
        // html.unescape(html.unescape(text)): CLIP unescapes twice so "&amp;amp;" becomes "&".
        string unescaped = WebUtility.HtmlDecode(WebUtility.HtmlDecode(fixedText));
        return CollapseWhitespace(unescaped).ToLowerInvariant();
    }

    /// <summary>The subset of ftfy.fix_text described in the class remarks.</summary>
    internal static string FixText(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            string? wide = LigatureOrWidthReplacement(rune.Value);
            if (wide is null)
                AppendUncurledKept(sb, rune.Value);
            else
                foreach (Rune inner in wide.EnumerateRunes())
                    AppendUncurledKept(sb, inner.Value);
        }
        return sb.ToString().Normalize(NormalizationForm.FormC);
    }

    private static void AppendUncurledKept(StringBuilder sb, int c)
    {
        if (IsRemovedControl(c))
            return;
        if (c is 0x02BC or >= 0x2018 and <= 0x201B)
            sb.Append('\'');                        // ftfy uncurl_quotes: ʼ ‘ ’ ‚ ‛
        else if (c is >= 0x201C and <= 0x201F)
            sb.Append('"');                         // ftfy uncurl_quotes: “ ” „ ‟
        else
            sb.Append(char.ConvertFromUtf32(c));
    }

    /// <summary>
    /// ftfy's LIGATURES and WIDTH_MAP, as NFKC gives them (values checked with Python's
    /// unicodedata.normalize("NFKC", c)); null when the character is left alone.
    /// </summary>
    private static string? LigatureOrWidthReplacement(int c) => c switch
    {
        0x3000 => " ",                                              // ideographic space
        >= 0xFF01 and <= 0xFF5E => ((char)(c - 0xFEE0)).ToString(), // full-width ASCII
        0x0132 => "IJ", 0x0133 => "ij", 0x0149 => "\u02BCn",
        0x01C4 => "D\u017D", 0x01C5 => "D\u017E", 0x01C6 => "d\u017E",
        0x01C7 => "LJ", 0x01C8 => "Lj", 0x01C9 => "lj",
        0x01CA => "NJ", 0x01CB => "Nj", 0x01CC => "nj",
        0x01F1 => "DZ", 0x01F2 => "Dz", 0x01F3 => "dz",
        0xFB00 => "ff", 0xFB01 => "fi", 0xFB02 => "fl", 0xFB03 => "ffi", 0xFB04 => "ffl", 0xFB05 => "st", 0xFB06 => "st",
        _ => null,
    };

    /// <summary>
    /// whitespace_clean: runs of whitespace become one space; the ends are stripped. Python's \s also
    /// matches U+001C..U+001F, which <see cref="FixText"/> has already removed as control characters.
    /// </summary>
    internal static string CollapseWhitespace(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (char ch in text)
        {
            if (char.IsWhiteSpace(ch))
            {
                pendingSpace = sb.Length > 0;
                continue;
            }
            if (pendingSpace)
                sb.Append(' ');
            pendingSpace = false;
            sb.Append(ch);
        }
        return sb.ToString();
    }

    /// <summary>ftfy remove_control_chars (tab, newline, form feed and carriage return are kept).</summary>
    private static bool IsRemovedControl(int c) =>
        c is >= 0x00 and <= 0x08 or 0x0B or >= 0x0E and <= 0x1F or 0x7F
            or >= 0x206A and <= 0x206F or 0xFEFF or >= 0xFFF9 and <= 0xFFFC
            or >= 0x1D173 and <= 0x1D17A or >= 0xE0000 and <= 0xE007F;
}
