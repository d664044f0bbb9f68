using IIP.Detection.Methods;

namespace IIP.Detection.Tests.Detection;

/// <summary>CacheLock: a second computer of a cache entry waits for the first (the tasks of a sharded scan).</summary>
public class CacheLockTests
{
    private sealed class Log : IProgress<string>
    {
        public List<string> Lines { get; } = [];
        public void Report(string value) { lock (Lines) Lines.Add(value); }
    }

    [Fact]
    public async Task ASecondHolderWaitsUntilTheFirstReleases()
    {
        string entry = Path.Combine(TestPaths.NewTempDir("cache-lock"), "perturbation-x.safetensors");
        var log = new Log();
        var first = CacheLock.Wait(entry);
        var second = Task.Run(() => CacheLock.Wait(entry, log, TimeSpan.FromMilliseconds(20)));

        Assert.NotSame(second, await Task.WhenAny(second, Task.Delay(400)));   // still waiting
        first.Dispose();
        Assert.Same(second, await Task.WhenAny(second, Task.Delay(5000)));      // got it once it was free
        (await second).Dispose();
        Assert.Contains(log.Lines, l => l.Contains("waiting for another iip process computing perturbation-x.safetensors"));
    }
}
