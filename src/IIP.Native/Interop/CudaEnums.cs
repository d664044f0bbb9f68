namespace IIP.Native;

/// <summary>CUdevice_attribute (cuda.h): the attributes this project reads.</summary>
public enum CudaDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MaxSharedMemoryPerBlock = 8,
    WarpSize = 10,
    ClockRateKhz = 13,
    MultiprocessorCount = 16,
    MemoryClockRateKhz = 36,
    GlobalMemoryBusWidthBits = 37,
    L2CacheSizeBytes = 38,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerMultiprocessor = 81,
    MaxSharedMemoryPerBlockOptin = 97,
}

/// <summary>CUfunction_attribute (cuda.h).</summary>
public enum CudaFunctionAttribute
{
    MaxThreadsPerBlock = 0,
    SharedSizeBytes = 1,
    ConstSizeBytes = 2,
    LocalSizeBytes = 3,
    NumRegisters = 4,
    PtxVersion = 5,
    BinaryVersion = 6,
    MaxDynamicSharedSizeBytes = 8,
}

/// <summary>CUjit_option (cuda.h): the options <see cref="CudaModule.LoadPtx"/> passes.</summary>
internal enum CudaJitOption
{
    WallTime = 2,
    InfoLogBuffer = 3,
    InfoLogBufferSizeBytes = 4,
    ErrorLogBuffer = 5,
    ErrorLogBufferSizeBytes = 6,
    LogVerbose = 12,
}

/// <summary>CUstreamCaptureMode (cuda.h).</summary>
public enum CudaStreamCaptureMode
{
    Global = 0,
    ThreadLocal = 1,
    Relaxed = 2,
}
