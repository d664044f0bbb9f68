namespace IIP.Detection.Methods;

/// <summary>How option values are spelled on the command line and in reports.</summary>
public static class OptionText
{
    /// <summary>"LatentCosine" -> "latent-cosine": an enum member as the command line spells it.</summary>
    public static string Kebab(string name) =>
        string.Concat(name.Select((c, i) => i > 0 && char.IsUpper(c) ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    public static string Kebab<T>(T value) where T : struct, Enum => Kebab(value.ToString());
}
