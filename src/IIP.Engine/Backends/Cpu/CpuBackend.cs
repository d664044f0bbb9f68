using System.Numerics.Tensors;
using IIP.Engine.Backends.Cpu.Gemm;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cpu;

/// <summary>
/// The fp32 reference backend: matrix products on the packed GEMM (<see cref="CpuGemm"/>), convolution as
/// implicit GEMM, attention on the GEMM micro-kernels, the rest vectorised (TensorPrimitives, Vector256) and
/// spread over the cores. Ops with more than a few lines live in their own partial file (CpuBackend.Conv2d.cs, ...).
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    private readonly GemmKernelSet _kernels;
    private readonly CpuActivationPool _pool = new();
    private readonly CpuPackedWeights _packedWeights;

    public static CpuBackend Instance { get; } = new();

    public CpuBackend() : this(GemmKernelSet.Best) { }

    /// <summary>A backend on one micro-kernel family (tests run every family this CPU supports).</summary>
    internal CpuBackend(GemmKernelSet kernels)
    {
        _kernels = kernels;
        _packedWeights = new CpuPackedWeights(kernels);
    }

    public string Name => "cpu";

    /// <summary>
    /// Uninitialised, as the contract allows: skipping the zeroing saves a full write pass per op output. Inside an
    /// <see cref="ActivationScope"/> the array comes from the activation pool when one of that length is idle.
    /// </summary>
    public Tensor Allocate(params int[] shape) => Tensor.From(_pool.Rent(checked((int)Tensor.ElementCount(shape))), shape);

    /// <summary>A scope whose unkept allocations return to this backend's activation pool (<see cref="CpuActivationPool"/>).</summary>
    public ActivationScope OpenScope() => _pool.Open();

    /// <summary>Bytes of released activations the pool holds for reuse.</summary>
    internal long IdleActivationBytes => _pool.IdleBytes;

    public Tensor FromHost(Tensor host) => host;

    public Tensor ToHost(Tensor tensor) => tensor;

    public void Linear(Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        // x [M, K], w [N, K] -> y [M, N] = x w^T + b
        Require(nameof(Linear), x.Rank == 2 && w.Rank == 2 && y.Rank == 2, x, w, y);
        int m = x.Shape[0], k = x.Shape[1], n = w.Shape[0];
        Require(nameof(Linear), w.Shape[1] == k && y.Shape[0] == m && y.Shape[1] == n && (b is null || b.Length == n), x, w, y);
        if (m <= GemvMaxRows)
        {
            LinearByDotProducts(x, w, b, y);
            return;
        }
        float* packed = _packedWeights.RowsAsB(w);
        fixed (float* px = x.Data, pw = w.Data, py = y.Data, pb = b?.Data)
        {
            var bias = GemmBias.Columns(pb);
            if (packed != null)
                GemmDriver.Run(_kernels, StridedPanels.ForA(false, px, k), new PrepackedPanels(packed), m, n, k, 1f, 0f, py, n, parallel: true, bias);
            else
                GemmDriver.Run(_kernels, StridedPanels.ForA(false, px, k), StridedPanels.ForB(true, pw, k), m, n, k, 1f, 0f, py, n, parallel: true, bias);
        }
    }

    public void LinearGeglu(Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        // x [M, K], w [2D, K], b [2D] -> y [M, D] = GEGLU(x w^T + b)
        Require(nameof(LinearGeglu), x.Rank == 2 && w.Rank == 2 && y.Rank == 2, x, w, y);
        int m = x.Shape[0], k = x.Shape[1], n = w.Shape[0], d = n / 2;
        Require(nameof(LinearGeglu), w.Shape[1] == k && n % 2 == 0 && y.Shape[0] == m && y.Shape[1] == d
            && (b is null || b.Length == n), x, w, y);
        // Fused where the weight is packed in advance in the GEGLU order (model weights); otherwise projection, then GEGLU.
        float* packed = m > GemvMaxRows && k > 0 ? _packedWeights.GegluRowsAsB(w) : null;
        if (packed == null)
        {
            IBackend.LinearThenGeglu(this, x, w, b, y);
            return;
        }
        fixed (float* px = x.Data, py = y.Data, pb = b?.Data)
            GemmDriver.Run(_kernels, StridedPanels.ForA(false, px, k), new PrepackedPanels(packed), m, n, k, 1f, 0f, null, n,
                parallel: true, geglu: new GemmGeglu(py, d, pb, d));
    }

    /// <summary>Rows up to which Linear reads the weights once as dot products instead of packing them for the GEMM.</summary>
    private const int GemvMaxRows = 2;

    // y[i, j] = b[j] + x[i, :] . w[j, :]: for one or two rows (the time-embedding projections) packing the weights
    // would cost more than the arithmetic; this reads each weight once, 64 outputs per task.
    private static void LinearByDotProducts(Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        int m = x.Shape[0], k = x.Shape[1], n = w.Shape[0];
        const int Chunk = 64;
        var xd = x.Data; var wd = w.Data; var yd = y.Data; var bd = b?.Data;
        ForChunks((n + Chunk - 1) / Chunk, Chunk * k, chunk =>
        {
            for (int j = chunk * Chunk; j < Math.Min(n, (chunk + 1) * Chunk); j++)
            {
                var row = wd.AsSpan(j * k, k);
                for (int i = 0; i < m; i++)
                    yd[i * n + j] = TensorPrimitives.Dot(xd.AsSpan(i * k, k), row) + (bd is null ? 0f : bd[j]);
            }
        });
    }

    internal static void Require(string op, bool ok, params Tensor[] tensors)
    {
        if (!ok)
            throw new ArgumentException($"{op}: incompatible shapes " + string.Join(", ", tensors.Select(t => $"[{t.ShapeText}]")));
    }
}
