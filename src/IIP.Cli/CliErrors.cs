using IIP.Engine.Weights;

namespace IIP.Cli;

/// <summary>Exit codes and the one place that turns expected failures into a message on stderr.</summary>
public static class CliErrors
{
    public const int Ok = 0;
    /// <summary>The command ran and found a failure (a golden case failed, a check did not pass).</summary>
    public const int Failed = 1;
    /// <summary>Bad input: a missing or malformed file, an invalid option.</summary>
    public const int BadInput = 2;
    /// <summary>The device (GPU) failed during the work; what was written so far is kept (a scan resumes from it).</summary>
    public const int DeviceFailed = 3;
    /// <summary>Interrupted (Ctrl-C, SIGTERM from a scheduler): what was written so far is kept; the same command resumes. 128 + SIGINT, as shells report it.</summary>
    public const int Interrupted = 130;

    /// <summary>The exit codes as --help lists them.</summary>
    public const string Summary = "Exit codes: 0 done; 1 a check failed (golden cases); 2 bad input (a missing or malformed file or option, named in " +
                                  "the message); 3 the GPU failed (results so far kept); 130 interrupted by Ctrl-C or SIGTERM (results so far kept; " +
                                  "the same command resumes).";

    /// <summary>
    /// Runs <paramref name="action"/>, printing expected errors as "error: ..." and returning <see cref="BadInput"/>, or
    /// <see cref="DeviceFailed"/> for a failure of the GPU (a CUDA error: out of memory, a lost context).
    /// </summary>
    public static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is WeightException or FileNotFoundException or DirectoryNotFoundException or IOException
                                      or ArgumentException or NotSupportedException or InvalidDataException or InvalidOperationException
                                      or FormatException or UnauthorizedAccessException
                                      || e.GetType().Name.EndsWith("LoadException", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
        catch (Exception e) when (IIP.Engine.Backends.DeviceFailure.Is(e))
        {
            Console.Error.WriteLine($"error: the GPU failed: {e.Message}");
            return DeviceFailed;
        }
    }
}
