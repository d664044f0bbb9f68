using System.Globalization;
using IIP.Detection.Scanning;
using IIP.Native;

namespace IIP.Cli.Commands.Scan;

/// <summary>
/// `iip scan --stats`: the CUDA driver calls a scan makes per scored image (<see cref="DriverCallCounts"/>: host-device
/// copies and kernel plus graph launches), read between the scanner's progress reports. The first scored batch also
/// records the UNet graphs and uploads each timestep's features once, so it is reported apart; the per-image figures are
/// the images after it. On the CPU backend every count is 0.
/// </summary>
public sealed class ScanCallStats(IProgress<ScanProgress> inner) : IProgress<ScanProgress>
{
    private DriverCallCounts.Snapshot _last = DriverCallCounts.Now();
    // buffers dropped before the scan (the model's load, a caller in the same process) are finalized before the count starts
    private readonly long _finalizedAtStart = FinalizedAfterCollection();
    private DriverCallCounts.Snapshot? _warmUp;
    private DriverCallCounts.Snapshot _steady;
    private int _warmUpImages, _steadyImages, _skipped;
    private bool _warmUpClosed;

    public void Report(ScanProgress p)
    {
        inner.Report(p);
        if (p.Skipped > _skipped)
        {
            _skipped = p.Skipped;   // already done: nothing was computed
            return;
        }
        var now = DriverCallCounts.Now();
        var delta = now - _last;
        _last = now;
        bool calls = delta.HostDeviceCopies + delta.Launches > 0;
        if (_warmUp is null) (_warmUp, _warmUpImages) = (delta, 1);
        else if (!_warmUpClosed && !calls) _warmUpImages++;             // the rest of the first batch, scored with it
        else
        {
            _warmUpClosed = true;
            _steady = new DriverCallCounts.Snapshot(_steady.HostToDevice + delta.HostToDevice, _steady.DeviceToHost + delta.DeviceToHost,
                _steady.KernelLaunches + delta.KernelLaunches, _steady.GraphLaunches + delta.GraphLaunches);
            _steadyImages++;
        }
    }

    /// <summary>
    /// The lines `host-device copies per image: N` and `kernel launches per image: N`, with what they cover, and
    /// `device buffers left to the finalizer: N` (pooled GPU buffers the scan dropped without releasing them, counted after
    /// a full collection: 0 when every one went back by a scope or Dispose).
    /// </summary>
    public IEnumerable<string> Lines()
    {
        yield return $"device buffers left to the finalizer: {FinalizedAfterCollection() - _finalizedAtStart}";
        if (_warmUp is not { } first)
        {
            yield return "host-device copies per image: none scored (every image was already done)";
            yield break;
        }
        if (_steadyImages == 0)
        {
            yield return ($"host-device copies per image: {Per(first.HostDeviceCopies, _warmUpImages)} (only the first batch of {_warmUpImages} was scored; it includes the warm-up)");
            yield return ($"kernel launches per image: {Per(first.Launches, _warmUpImages)} ({Per(first.GraphLaunches, _warmUpImages)} of them graph launches)");
            yield break;
        }
        yield return ($"host-device copies per image: {Per(_steady.HostDeviceCopies, _steadyImages)} ({Per(_steady.HostToDevice, _steadyImages)} to the device, " +
                            $"{Per(_steady.DeviceToHost, _steadyImages)} back; over {_steadyImages} images after the first batch, which took {first.HostDeviceCopies} with the warm-up)");
        yield return ($"kernel launches per image: {Per(_steady.Launches, _steadyImages)} ({Per(_steady.GraphLaunches, _steadyImages)} of them graph launches; " +
                            $"the first batch of {_warmUpImages}: {first.Launches})");
    }

    // the process's count of pooled buffers returned by finalizers, after a full collection has run every pending one
    private static long FinalizedAfterCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return CudaMemoryPool.ReturnedByFinalizer;
    }

    // a count per image, in invariant culture (the only non-integer the lines print)
    private static string Per(long count, int images) => (count / (double)images).ToString("0.#", CultureInfo.InvariantCulture);
}
