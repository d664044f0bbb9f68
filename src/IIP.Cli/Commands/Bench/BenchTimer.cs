using System.Diagnostics;

namespace IIP.Cli.Commands.Bench;

/// <summary>Best and median wall time of an op over repeated runs, after warm-up runs (JIT, page faults, buffers).</summary>
public readonly record struct BenchTiming(double BestSeconds, double MedianSeconds, int Runs)
{
    /// <summary>Times <paramref name="op"/>. The best run is the figure to quote on a shared machine: other
    /// processes only ever add time; the median shows how noisy the machine was.</summary>
    public static BenchTiming Measure(Action op, int warmup, int repeat)
    {
        for (int i = 0; i < warmup; i++) op();
        var times = new double[Math.Max(1, repeat)];
        for (int i = 0; i < times.Length; i++)
        {
            var sw = Stopwatch.StartNew();
            op();
            times[i] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return new BenchTiming(times[0], times[times.Length / 2], times.Length);
    }
}
