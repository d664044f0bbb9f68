using System.Numerics.Tensors;
using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// The CUDA backend: tensors live on one device as fp16 (<see cref="CudaStorage"/>), kernels compute in fp32 and
/// are launched asynchronously on one stream, with no synchronization between launches; <see cref="ToHost"/> (and
/// reading a norm) are the points where the host waits. Ops with more than a few lines live in their own partial
/// file, named as the CPU reference's (CudaBackend.Gemm.cs for Linear and Conv2d, ...); the kernels they launch are
/// in kernels/&lt;stem&gt;.cu (kernels/README.md has the table).
/// <para>
/// Memory: each tensor rents a block from a caching pool (all work is on the backend's stream, so reuse is
/// stream-ordered) and gives it back when the <see cref="OpenScope"/> scope it was made in closes, when
/// <see cref="Release"/> is called (uploads), or, for a tensor the code simply drops, when it is collected: the product
/// path never leaves one to that (the sampling loops, the VAE and the text encoder run in scopes and release their
/// uploads; `iip scan --stats` counts the rest). Op scratch goes back as soon as its kernels are queued. Inside
/// <see cref="UseArena"/> tensors are carved from an arena instead, for allocations that share one lifetime (a captured
/// graph, a model's weights).
/// </para>
/// <para>Not thread-safe: use a backend from one thread at a time (any thread; the context is made current per call).</para>
/// </summary>
public sealed partial class CudaBackend : IGradientBackend, IGraphRecording, IDisposable
{
    private readonly CudaKernelSet _kernels;
    private readonly CudaMemoryPool _pool;
    private readonly PinnedUploadStaging _uploadStaging;
    private readonly ScopedOwnership<CudaPooledBuffer> _scopes = new(
        tensor => tensor.Storage is CudaStorage { Owner: CudaPooledBuffer buffer } ? buffer : null,
        buffers => buffers.ForEach(b => b.Dispose()));   // back to the pool; reuse is stream-ordered (one stream)
    private CudaArena? _arena;
    private bool _capturing;

    public CudaDevice Device { get; }

    /// <summary>The stream every op of this backend is queued on.</summary>
    public CudaStream Stream { get; }

    public string Name => $"cuda:{Device.Ordinal}";

    public string Description => Device.ToString();

    /// <summary>Tensors are fp16 on the device (<see cref="CudaStorage"/>).</summary>
    public StoragePrecision Precision => StoragePrecision.Fp16;

    /// <summary>CUDA graphs (<see cref="Capture"/>).</summary>
    public IGraphRecording GraphRecording => this;

    /// <summary>A model part uploaded in one pass (<see cref="UploadWeights"/>).</summary>
    public Weights.IWeightSource MakeResident(Weights.IWeightSource weights) => UploadWeights(weights);

    /// <summary>
    /// Whether linear layers and convolutions run on cuBLAS (opt-in with IIP_CUBLAS=1 while it is being checked on GPUs;
    /// convolutions through an explicit im2col up to 512 MiB; input gradients and fused attention always run on the engine's
    /// kernels), and why not when asked for and absent.
    /// </summary>
    public string BlasStatus { get; } = "cuBLAS off (IIP_CUBLAS=1 uses it when libcublas.so.13 or .12 loads)";

    private readonly CudaBlas? _blas;

    /// <summary>The SM architecture of the PTX in use (90 or 80).</summary>
    public int KernelArchitecture => _kernels.Architecture;

    /// <summary>The loaded kernels (for tests that check which variants this device got).</summary>
    internal CudaKernelSet Kernels => _kernels;

    private CudaBackend(CudaDevice device, EngineOptions options)
    {
        Device = device;
        GemmPipeline = options.GemmPipeline;
        try
        {
            _kernels = new CudaKernelSet(device);
            Stream = new CudaStream(device);
            _pool = new CudaMemoryPool(device);
            _uploadStaging = new PinnedUploadStaging(device, Stream, UploadStagingBytes);
            if (options.Cublas)
            {
                _blas = CudaBlas.TryCreate(device, Stream, out string reason, options.CublasDirectory);
                BlasStatus = _blas is null ? $"cuBLAS requested (IIP_CUBLAS=1) but not used: {reason}" : $"cuBLAS: {_blas.Library}";
            }
        }
        catch
        {
            _kernels?.Dispose();
            device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A backend on device <paramref name="ordinal"/>, or null with the reason when CUDA cannot be used here (no driver,
    /// no device, a device older than sm_80, no embedded PTX, a PTX that does not JIT).
    /// </summary>
    public static CudaBackend? TryCreate(out string reason, int ordinal = 0, EngineOptions? options = null)
    {
        var device = CudaDevice.Probe(out reason, ordinal);
        if (device is null) return null;
        try
        {
            return new CudaBackend(device, options ?? EngineOptions.Default);
        }
        catch (Exception e) when (e is InvalidOperationException or CudaException)
        {
            reason = e.Message;
            return null;
        }
    }

    /// <summary>A backend on device <paramref name="ordinal"/>; throws with the reason when CUDA cannot be used.</summary>
    public static CudaBackend Create(int ordinal = 0, EngineOptions? options = null) =>
        TryCreate(out string reason, ordinal, options) ?? throw new InvalidOperationException($"the CUDA backend is not available: {reason}");

    // ---- memory and transfers ----

    /// <summary>An uninitialised tensor; inside an <see cref="OpenScope"/> scope it is returned to the pool when the scope closes
    /// unless kept.</summary>
    public Tensor Allocate(params int[] shape) => Tensor.OnDevice(shape, NewStorage(Tensor.ElementCount(shape), scoped: true));

    /// <summary>An uninitialised tensor that no open scope takes back (buffers that outlive the calling code, e.g. a graph's inputs).</summary>
    public Tensor AllocateUnscoped(params int[] shape) => Tensor.OnDevice(shape, NewStorage(Tensor.ElementCount(shape), scoped: false));

    /// <summary>
    /// A scope whose op outputs (<see cref="Allocate"/>) go back to the memory pool when it closes, unless kept
    /// (<see cref="ActivationScope"/>), instead of when the garbage collector finalizes them: an eager SD v1.4 forward
    /// otherwise finds the pool empty and calls cuMemAlloc for most of its ~700 outputs. Uploads (<see cref="FromHost"/>:
    /// inputs, weights) are never scoped. Inside <see cref="UseArena"/> (graph capture) nothing is scoped.
    /// </summary>
    public ActivationScope OpenScope() => _scopes.Open();

    private CudaStorage NewStorage(long elements, bool scoped)
    {
        long bytes = Math.Max(1, elements) * CudaStorage.ElementBytes;
        if (_arena is { } arena) return new CudaStorage(this, arena.Allocate(bytes), elements, arena);
        var buffer = _pool.Rent(bytes);
        if (scoped) _scopes.Track(buffer);
        return new CudaStorage(this, buffer.Pointer, elements, buffer);
    }

    // Scratch memory for one op (fp32 scores, partial sums): from the arena inside UseArena, else the pool. Give it back
    // with ReleaseScratch once the work using it is queued: pool blocks are handed out again only to later work on this
    // one stream, so the queued kernels still read and write it first.
    private (DevicePointer Pointer, object Owner) Scratch(long bytes)
    {
        bytes = Math.Max(bytes, 4);
        if (_arena is { } arena) return (arena.Allocate(bytes), arena);
        var buffer = _pool.Rent(bytes);
        return (buffer.Pointer, buffer);
    }

    // Returns a Scratch block to the pool now (an arena's blocks live as long as the arena: nothing to do).
    private static void ReleaseScratch(object? owner)
    {
        if (owner is CudaPooledBuffer buffer) buffer.Dispose();
    }

    /// <summary>Uploads a host tensor, rounding to fp16 (round to nearest even; beyond +-65504 becomes infinity).</summary>
    public Tensor FromHost(Tensor host)
    {
        if (!host.IsHost)
        {
            Storage(host, nameof(FromHost));  // already on this backend: the same tensor, as the CPU backend does
            return host;
        }
        var device = AllocateUnscoped(host.Shape);
        CopyFromHost(host, device);
        return device;
    }

    /// <summary>Uploads <paramref name="host"/> into an existing device tensor of the same element count.</summary>
    public void CopyFromHost(Tensor host, Tensor device)
    {
        var storage = Storage(device, nameof(CopyFromHost));
        if (host.Length != device.Length)
            throw new ArgumentException($"{nameof(CopyFromHost)}: host [{host.ShapeText}] and device [{device.ShapeText}] differ in size");
        if (_capturing)
            throw new InvalidOperationException($"{nameof(CopyFromHost)} during graph capture: upload before capturing and copy into the captured tensors between replays");
        if (_uploadStaging.TryUpload(host.Data, storage.Pointer)) return;  // converted into pinned memory, copy queued
        var half = new Half[host.Length];
        TensorPrimitives.ConvertToHalf(host.Data, half);
        Stream.CopyToDevice<Half>(half, storage.Pointer);  // pageable source: staged before the call returns
    }

    /// <summary>
    /// The most page-locked host memory <see cref="CopyFromHost"/> stages uploads in (allocated as uploads need it): a
    /// scan's largest upload, a batch of 32 images at 512x512 in fp16, is 48 MiB.
    /// </summary>
    public const long UploadStagingBytes = 256L << 20;

    /// <summary>The page-locked staging of <see cref="CopyFromHost"/> (for tests).</summary>
    internal PinnedUploadStaging UploadStaging => _uploadStaging;

    /// <summary>A pooled tensor's block back to the pool now (reuse is stream-ordered, so queued work still sees it).</summary>
    public void Release(Tensor tensor)
    {
        if (tensor.Storage is CudaStorage { Owner: CudaPooledBuffer buffer }) buffer.Dispose();
    }

    /// <summary>A host tensor uploaded into, or one of this backend's copied into, <paramref name="destination"/>.</summary>
    public void CopyInto(Tensor source, Tensor destination)
    {
        if (source.IsHost) CopyFromHost(source, destination);
        else CopyOnDevice(source, destination);
    }

    /// <summary>Copies device tensor <paramref name="source"/> into <paramref name="destination"/> (same element count), in stream order.</summary>
    public void CopyOnDevice(Tensor source, Tensor destination)
    {
        var from = Storage(source, nameof(CopyOnDevice));
        var to = Storage(destination, nameof(CopyOnDevice));
        if (source.Length != destination.Length)
            throw new ArgumentException($"{nameof(CopyOnDevice)}: [{source.ShapeText}] and [{destination.ShapeText}] differ in size");
        Stream.CopyDeviceToDevice(from.Pointer, to.Pointer, source.Length * CudaStorage.ElementBytes);
    }

    /// <summary>Downloads and widens to fp32; waits for the work queued before it.</summary>
    public Tensor ToHost(Tensor tensor)
    {
        if (tensor.IsHost) return tensor;
        var storage = Storage(tensor, nameof(ToHost));
        if (_capturing) throw new InvalidOperationException($"{nameof(ToHost)} during graph capture");
        var half = new Half[tensor.Length];
        Stream.CopyToHost<Half>(storage.Pointer, half);
        var result = new Tensor(tensor.Shape);
        TensorPrimitives.ConvertToSingle(half, result.Data);
        return result;
    }

    /// <summary>Waits for all queued work; surfaces a fault of any earlier launch.</summary>
    public void Synchronize() => Stream.Synchronize();

    /// <summary>Memory held by the caching pool (bytes reserved, bytes cached for reuse).</summary>
    public (long Reserved, long Cached) PoolMemory => (_pool.BytesReserved, _pool.BytesCached);

    // ---- elementwise ops (kernels/elementwise.cu) ----

    public void Add(Tensor a, Tensor b, Tensor y)
    {
        Require(nameof(Add), a.Length == b.Length && a.Length == y.Length, a, b, y);
        long n = y.Length;
        LaunchElementwise(_kernels.Add, n, Ptr(a), Ptr(b), Ptr(y), n);
    }

    public void AddChannelBias(Tensor x, Tensor bias, Tensor y)
    {
        // x [N, C, *spatial], bias [N, C]
        int n = x.Shape[0], c = x.Shape[1];
        Require(nameof(AddChannelBias), x.Rank >= 2 && bias.Length == (long)n * c && x.Length == y.Length, x, bias, y);
        long inner = x.Length / ((long)n * c), total = x.Length;
        LaunchElementwise(_kernels.AddChannelBias, total, Ptr(x), Ptr(bias), Ptr(y), total, inner);
    }

    public void Axpby(float alpha, Tensor x, float beta, Tensor z, Tensor y)
    {
        Require(nameof(Axpby), x.Length == z.Length && x.Length == y.Length, x, z, y);
        long n = y.Length;
        LaunchElementwise(_kernels.Axpby, n, alpha, Ptr(x), beta, Ptr(z), Ptr(y), n);
    }

    public void Silu(Tensor x, Tensor y) => Unary(nameof(Silu), _kernels.Silu, x, y);

    public void QuickGelu(Tensor x, Tensor y) => Unary(nameof(QuickGelu), _kernels.QuickGelu, x, y);

    public void Gelu(Tensor x, Tensor y) => Unary(nameof(Gelu), _kernels.Gelu, x, y);

    public void Geglu(Tensor x, Tensor y)
    {
        // x [R, 2D] -> y [R, D]
        int d = y.Dim(-1);
        Require(nameof(Geglu), x.Dim(-1) == 2 * d && x.Length == 2 * y.Length, x, y);
        long rows = y.Length / d;
        LaunchElementwise(_kernels.Geglu, y.Length, Ptr(x), Ptr(y), rows, d);
    }

    public void SiluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        Require(nameof(SiluBackward), x.Length == dy.Length && x.Length == dx.Length, x, dy, dx);
        long n = x.Length;
        LaunchElementwise(_kernels.SiluBackward, n, Ptr(x), Ptr(dy), Ptr(dx), n);
    }

    public void GegluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        // x [R, 2D], dy [R, D] -> dx [R, 2D]
        int d = dy.Dim(-1);
        Require(nameof(GegluBackward), x.Dim(-1) == 2 * d && x.Length == 2 * dy.Length && dx.Length == x.Length, x, dy, dx);
        long rows = dy.Length / d;
        LaunchElementwise(_kernels.GegluBackward, dy.Length, Ptr(x), Ptr(dy), Ptr(dx), rows, d);
    }

    private void Unary(string op, CudaKernel kernel, Tensor x, Tensor y)
    {
        Require(op, x.Length == y.Length, x, y);
        long n = x.Length;
        LaunchElementwise(kernel, n, Ptr(x), Ptr(y), n);
    }

    // ---- launch helpers ----

    private const int ElementwiseBlock = 256;

    // Grid-stride kernels: enough blocks to fill the device (32 per SM), never more than the work needs.
    private int ElementwiseGrid(long n) =>
        (int)Math.Clamp((n + ElementwiseBlock - 1) / ElementwiseBlock, 1, (long)Device.MultiprocessorCount * 32);

    private void LaunchElementwise(CudaKernel kernel, long n, params ReadOnlySpan<KernelArgument> arguments)
    {
        if (n == 0) return;
        kernel.Launch(ElementwiseGrid(n), ElementwiseBlock, 0, Stream, arguments);
    }

    private static int Blocks(long work, int perBlock) => checked((int)((work + perBlock - 1) / perBlock));

    /// <summary>The device pointer of a tensor of this backend; a clear error for a host tensor or another backend's.</summary>
    private DevicePointer Ptr(Tensor t) => Storage(t, "CUDA op").Pointer;

    private DevicePointer PtrOrNull(Tensor? t) => t is null ? DevicePointer.Null : Ptr(t);

    private CudaStorage Storage(Tensor t, string op)
    {
        if (t.Storage is not CudaStorage storage)
            throw new ArgumentException($"{op}: tensor [{t.ShapeText}] is {(t.IsHost ? "on the host" : "on another backend")}; upload it with FromHost");
        if (!ReferenceEquals(storage.Backend, this))
            throw new ArgumentException($"{op}: tensor [{t.ShapeText}] belongs to {storage.Backend.Name}, not this backend instance");
        if (t.Length > storage.Elements)
            throw new ArgumentException($"{op}: tensor [{t.ShapeText}] is larger than its storage ({storage.Elements} elements)");
        return storage;
    }

    private static void Require(string op, bool ok, params Tensor[] tensors)
    {
        if (!ok)
            throw new ArgumentException($"{op}: incompatible shapes " + string.Join(", ", tensors.Select(t => $"[{t.ShapeText}]")));
    }

    private static bool Aligned(DevicePointer p, int bytes) => p.Address % (ulong)bytes == 0;

    public void Dispose()
    {
        _blas?.Dispose();
        _uploadStaging.Dispose();
        _pool.Dispose();
        Stream.Dispose();
        _kernels.Dispose();
        Device.Dispose();
    }
}
