using System.Security.Cryptography;
using System.Text;

namespace IIP.Detection.Methods;

/// <summary>A method's options as the short key its records carry (<see cref="IDetectionMethod.OptionsKey"/>), part of the resume key.</summary>
public static class OptionsKeys
{
    /// <summary>
    /// A short, order-independent hash of a method's options: the first 16 hex characters of SHA-256 over
    /// "name=value\n" lines sorted by name (ordinal). Two runs with the same options get the same hash, so a
    /// rerun skips what is done; changing any option makes new records.
    /// </summary>
    public static string Hash(IEnumerable<KeyValuePair<string, string>> options)
    {
        var canonical = new StringBuilder();
        foreach (var (name, value) in options.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            if (name.Contains('=') || name.Contains('\n') || value.Contains('\n'))
                throw new ArgumentException($"option '{name}' cannot be hashed: names may not contain '=' or newlines, values may not contain newlines");
            canonical.Append(name).Append('=').Append(value).Append('\n');
        }
        byte[] digest = SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToString()));
        return Convert.ToHexStringLower(digest)[..16];
    }
}
