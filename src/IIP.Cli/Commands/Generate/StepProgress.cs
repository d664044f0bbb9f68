using System.Diagnostics;
using System.Globalization;

namespace IIP.Cli.Commands.Generate;

/// <summary>
/// Sampling progress on stderr, one report per denoising step: redrawn in place on a terminal, one line per
/// step when stderr is redirected (logs keep every step).
/// </summary>
internal sealed class StepProgress(IReadOnlyList<int> timesteps) : IProgress<int>
{
    private readonly bool _interactive = !Console.IsErrorRedirected;
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    /// <summary><paramref name="done"/> steps of <c>timesteps.Count</c> finished.</summary>
    public void Report(int done)
    {
        double elapsed = _watch.Elapsed.TotalSeconds;
        double eta = elapsed / done * (timesteps.Count - done);
        string line = string.Create(CultureInfo.InvariantCulture,
            $"step {done}/{timesteps.Count} (t={timesteps[done - 1]}) {elapsed:F1} s, {elapsed / done:F2} s/step, ETA {eta:F0} s");
        if (_interactive)
        {
            Console.Error.Write("\r" + line + "   ");
            if (done == timesteps.Count) Console.Error.WriteLine();
        }
        else
        {
            Console.Error.WriteLine(line);
        }
    }
}
