using IIP.Runtime.Backends.Cpu.Gemm;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cpu;

/// <summary>
/// The fp32 reference backend: matrix products on the packed GEMM (<see cref="CpuGemm"/>), convolution as
/// implicit GEMM, attention on the GEMM micro-kernels, the rest vectorised (TensorPrimitives, Vector256) and
/// spread over the cores. Ops with more than a few lines live in their own partial file (CpuBackend.Conv2d.cs, ...).
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    private readonly GemmKernelSet _kernels;

    public static CpuBackend Instance { get; } = new();

    public CpuBackend() : this(GemmKernelSet.Best) { }

    /// <summary>A backend on one micro-kernel family (tests run every family this CPU supports).</summary>
    internal CpuBackend(GemmKernelSet kernels) => _kernels = kernels;

    public string Name => "cpu";

    public Tensor Allocate(params int[] shape) => new(shape);

    public Tensor FromHost(Tensor host) => host;

    public Tensor ToHost(Tensor tensor) => tensor;

    public void Linear(Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        // x [M, K], w [N, K] -> y [M, N] = x w^T + b
        Require(nameof(Linear), x.Rank == 2 && w.Rank == 2 && y.Rank == 2, x, w, y);
        int m = x.Shape[0], k = x.Shape[1], n = w.Shape[0];
        Require(nameof(Linear), w.Shape[1] == k && y.Shape[0] == m && y.Shape[1] == n && (b is null || b.Length == n), x, w, y);
        float beta = 0f;
        if (b is not null)
        {
            // Bias preloaded into y; the GEMM then adds x w^T onto it (beta = 1).
            for (int i = 0; i < m; i++) b.Data.AsSpan().CopyTo(y.Data.AsSpan(i * n, n));
            beta = 1f;
        }
        fixed (float* px = x.Data, pw = w.Data, py = y.Data)
            CpuGemm.Multiply(_kernels, false, true, m, n, k, 1f, px, k, pw, k, beta, py, n, parallel: true);
    }

    internal static void Require(string op, bool ok, params Tensor[] tensors)
    {
        if (!ok)
            throw new ArgumentException($"{op}: incompatible shapes " + string.Join(", ", tensors.Select(t => $"[{t.ShapeText}]")));
    }
}
