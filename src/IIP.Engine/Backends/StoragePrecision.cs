namespace IIP.Engine.Backends;

/// <summary>How a backend stores tensor elements between ops (every backend computes in fp32).</summary>
public enum StoragePrecision
{
    /// <summary>fp32 storage: the CPU reference.</summary>
    Fp32,

    /// <summary>fp16 storage (round to nearest even after every op): the CUDA backend and its CPU emulation.</summary>
    Fp16,
}
