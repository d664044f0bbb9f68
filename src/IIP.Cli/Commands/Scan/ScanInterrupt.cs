using System.Runtime.InteropServices;

namespace IIP.Cli.Commands.Scan;

/// <summary>
/// Turns Ctrl-C (SIGINT) and SIGTERM (a scheduler preempting or ending the job) into a cancellation the scan checks between
/// images, so it stops with every finished record on disk and its CSV written. A second Ctrl-C ends the process at once.
/// </summary>
public sealed class ScanInterrupt : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration? _sigterm;

    public ScanInterrupt()
    {
        Console.CancelKeyPress += OnCancelKey;
        _sigterm = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;   // do not terminate now: finish the image in progress, then stop
            Request("SIGTERM");
        });
    }

    public CancellationToken Token => _cancel.Token;

    /// <summary>"Ctrl-C" or "SIGTERM": what stopped the scan.</summary>
    public string Reason { get; private set; } = "";

    private void OnCancelKey(object? sender, ConsoleCancelEventArgs e)
    {
        if (_cancel.IsCancellationRequested) return;   // the second Ctrl-C: let it end the process
        e.Cancel = true;
        Request("Ctrl-C");
    }

    private void Request(string reason)
    {
        if (_cancel.IsCancellationRequested) return;
        Reason = reason;
        Console.Error.WriteLine($"\n{reason}: stopping after the image in progress (Ctrl-C again to stop at once)");
        _cancel.Cancel();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKey;
        _sigterm?.Dispose();
        _cancel.Dispose();
    }
}
