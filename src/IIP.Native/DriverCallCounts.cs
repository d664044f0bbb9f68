namespace IIP.Native;

/// <summary>
/// Counts of the driver calls that cost a round trip or a launch, for the whole process: host-device copies (either
/// direction; device-to-device copies stay on the device and are not counted), kernel launches and graph launches.
/// `iip scan --stats` prints them per image; a test on the kernel emulator checks that a sampling loop keeps them
/// independent of its number of steps. Counting is one interlocked increment per call.
/// </summary>
public static class DriverCallCounts
{
    private static long _hostToDevice, _deviceToHost, _kernelLaunches, _graphLaunches;

    /// <summary>The counts so far; subtract two snapshots for the calls in between.</summary>
    public static Snapshot Now() => new(Interlocked.Read(ref _hostToDevice), Interlocked.Read(ref _deviceToHost),
        Interlocked.Read(ref _kernelLaunches), Interlocked.Read(ref _graphLaunches));

    internal static void HostToDevice() => Interlocked.Increment(ref _hostToDevice);

    internal static void DeviceToHost() => Interlocked.Increment(ref _deviceToHost);

    internal static void KernelLaunch() => Interlocked.Increment(ref _kernelLaunches);

    internal static void GraphLaunch() => Interlocked.Increment(ref _graphLaunches);

    /// <summary>Counts at one moment, or the difference of two moments.</summary>
    public readonly record struct Snapshot(long HostToDevice, long DeviceToHost, long KernelLaunches, long GraphLaunches)
    {
        public long HostDeviceCopies => HostToDevice + DeviceToHost;

        /// <summary>Kernel launches plus graph launches (a replayed graph is one launch of the host's).</summary>
        public long Launches => KernelLaunches + GraphLaunches;

        public static Snapshot operator -(Snapshot a, Snapshot b) =>
            new(a.HostToDevice - b.HostToDevice, a.DeviceToHost - b.DeviceToHost, a.KernelLaunches - b.KernelLaunches, a.GraphLaunches - b.GraphLaunches);
    }
}
