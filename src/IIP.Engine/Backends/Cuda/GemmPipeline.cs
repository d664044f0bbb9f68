namespace IIP.Engine.Backends.Cuda;

/// <summary>How the CUDA GEMM's main loop brings k tiles into shared memory (<see cref="CudaBackend.GemmPipeline"/>).</summary>
public enum GemmPipeline
{
    /// <summary>The next tile is loaded into registers during the current tile's products, then stored (two buffers).</summary>
    RegisterStaged,

    /// <summary>cp.async copies tiles straight into a three-stage ring, two in flight (sm_80+; 60 KiB of shared memory).</summary>
    CpAsync,
}
