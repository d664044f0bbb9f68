using System.Text;

namespace IIP.Native;

/// <summary>
/// A module JIT-compiled by the driver from PTX text (cuModuleLoadDataEx). A PTX error throws a
/// <see cref="CudaException"/> whose message carries the JIT error log and the module's name; the info
/// log (register and spill reports with verbose logging) is kept in <see cref="JitInfoLog"/>.
/// </summary>
public sealed unsafe class CudaModule : IDisposable
{
    private const int LogCapacity = 16 * 1024;

    private readonly CudaModuleHandle _handle;

    public CudaDevice Device { get; }

    /// <summary>A name for messages (the PTX file's stem, e.g. "attention").</summary>
    public string Name { get; }

    public string JitInfoLog { get; }

    /// <summary>Driver time spent JIT-compiling, in milliseconds.</summary>
    public float JitMilliseconds { get; }

    private CudaModule(CudaDevice device, string name, CudaModuleHandle handle, string infoLog, float jitMs)
    {
        Device = device;
        Name = name;
        _handle = handle;
        JitInfoLog = infoLog;
        JitMilliseconds = jitMs;
    }

    /// <summary>JIT-compiles <paramref name="ptx"/> for <paramref name="device"/>; <paramref name="name"/> names it in errors.</summary>
    public static CudaModule LoadPtx(CudaDevice device, string ptx, string name, bool verboseLog = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(ptx);
        device.MakeCurrent();
        // The image is NUL-terminated PTX text.
        int length = Encoding.UTF8.GetByteCount(ptx);
        var image = new byte[length + 1];
        Encoding.UTF8.GetBytes(ptx, image);

        byte[] infoLog = new byte[LogCapacity], errorLog = new byte[LogCapacity];
        var options = stackalloc CudaJitOption[]
        {
            CudaJitOption.WallTime,
            CudaJitOption.InfoLogBuffer, CudaJitOption.InfoLogBufferSizeBytes,
            CudaJitOption.ErrorLogBuffer, CudaJitOption.ErrorLogBufferSizeBytes,
            CudaJitOption.LogVerbose,
        };
        const int OptionCount = 6;
        var handle = new CudaModuleHandle(device.Context);
        fixed (byte* pImage = image, pInfo = infoLog, pError = errorLog)
        {
            // Sizes go in by value in the pointer-sized slot; the driver writes back the bytes it used there,
            // and the wall time as a float in the first slot's low bytes.
            nint* values = stackalloc nint[OptionCount];
            values[0] = 0;
            values[1] = (nint)pInfo;
            values[2] = LogCapacity;
            values[3] = (nint)pError;
            values[4] = LogCapacity;
            values[5] = verboseLog ? 1 : 0;
            nint module;
            var result = Interop.CudaDriver.cuModuleLoadDataEx(&module, pImage, OptionCount, options, values);
            if (result != CudaResult.Success)
            {
                handle.Dispose();
                string log = LogText(errorLog, values[4]);
                throw new CudaException(result, $"cuModuleLoadDataEx({name})",
                    string.IsNullOrWhiteSpace(log) ? "(the JIT error log is empty)" : "JIT error log:" + Environment.NewLine + log);
            }
            handle.Adopt(module);
            float wall = BitConverter.Int32BitsToSingle((int)(values[0] & 0xffffffff));
            return new CudaModule(device, name, handle, LogText(infoLog, values[2]), wall);
        }
    }

    // The first `used` bytes (clamped to the buffer) up to the first NUL.
    private static string LogText(byte[] buffer, nint used)
    {
        int count = (int)Math.Clamp((long)used, 0, buffer.Length);
        var bytes = buffer.AsSpan(0, count);
        int end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end >= 0 ? bytes[..end] : bytes).TrimEnd();
    }

    /// <summary>The <c>extern "C"</c> entry point <paramref name="entryName"/>; a clear error when the PTX lacks it.</summary>
    public CudaKernel GetKernel(string entryName)
    {
        Device.MakeCurrent();
        int length = Encoding.UTF8.GetByteCount(entryName);
        var bytes = new byte[length + 1];
        Encoding.UTF8.GetBytes(entryName, bytes);
        nint function;
        CudaResult result;
        fixed (byte* pName = bytes)
            result = Interop.CudaDriver.cuModuleGetFunction(&function, _handle.Value, pName);
        if (result == CudaResult.NotFound)
            throw new CudaException(result, $"cuModuleGetFunction({Name}, {entryName})", $"module '{Name}' has no entry point '{entryName}'");
        CudaException.ThrowIfFailed(result, $"cuModuleGetFunction({Name}, {entryName})");
        return new CudaKernel(this, entryName, function);
    }

    public void Dispose() => _handle.Dispose();
}
