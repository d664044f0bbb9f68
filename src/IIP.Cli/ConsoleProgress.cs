using IIP.Detection.Scanning;

namespace IIP.Cli;

/// <summary>
/// Scan progress on stderr: a bar with rate and ETA, redrawn in place on a terminal, one line every
/// few seconds when stderr is redirected (logs stay readable).
/// </summary>
public sealed class ConsoleProgress : IProgress<ScanProgress>, IProgress<string>
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private DateTime _lastLine = DateTime.MinValue;

    public void Report(ScanProgress p)
    {
        int scored = p.Done - p.Skipped;
        double perImage = scored > 0 ? p.Elapsed.TotalSeconds / scored : double.NaN;
        var eta = double.IsNaN(perImage) ? "?" : Format(TimeSpan.FromSeconds(perImage * (p.Total - p.Done)));
        const int Width = 30;
        int filled = p.Total == 0 ? Width : (int)((long)Width * p.Done / p.Total);
        string line = $"[{new string('#', filled)}{new string('.', Width - filled)}] {p.Done}/{p.Total} " +
                      $"({p.Skipped} already done, {p.Failed} failed) {(double.IsNaN(perImage) ? "" : $"{perImage:F2} s/image ")}ETA {eta}";
        if (_interactive)
        {
            Console.Error.Write("\r" + line.PadRight(Console.IsErrorRedirected ? 0 : Math.Max(0, SafeWidth() - 1)));
            if (p.Done == p.Total) Console.Error.WriteLine();
        }
        else if (p.Done == p.Total || DateTime.UtcNow - _lastLine > TimeSpan.FromSeconds(5))
        {
            Console.Error.WriteLine(line);
            _lastLine = DateTime.UtcNow;
        }
    }

    public void Report(string message)
    {
        if (_interactive) Console.Error.Write("\r");
        Console.Error.WriteLine(message);
    }

    private static int SafeWidth()
    {
        try { return Console.WindowWidth; } catch (IOException) { return 100; }
    }

    public static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:00}s" : $"{t.TotalSeconds:F0}s";
}
