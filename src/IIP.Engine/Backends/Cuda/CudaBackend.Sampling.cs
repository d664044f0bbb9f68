using IIP.Engine.Scheduling;
using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>
/// Fused sampling steps on the device (kernels/ddim.cu, kernels/guidance.cu), so a DDIM loop never brings the latent
/// to the host: the DDIM transfer (a sampling step from a(t) to a(t_prev), or an inversion step from a(t_prev) to a(t),
/// as <see cref="Scheduling.DdimScheduler"/>), classifier-free guidance with the TCNP norm, and both fused.
/// Norms stay on the device as a <see cref="PendingNorm"/> until read.
/// </summary>
public sealed partial class CudaBackend
{
    private const int ReductionBlock = 256, MaxReductionBlocks = 1024;

    /// <summary>
    /// x0 = (x - B p) / A; y = C x0 + D p (<see cref="DdimStepCoefficients"/>: the noise's or the velocity's transfer).
    /// x, p [..] -> y like x (may alias x).
    /// </summary>
    public void DdimTransfer(Tensor x, Tensor prediction, DdimStepCoefficients transfer, Tensor y)
    {
        Require(nameof(DdimTransfer), x.Length == prediction.Length && x.Length == y.Length, x, prediction, y);
        long n = x.Length;
        LaunchElementwise(_kernels.DdimTransfer, n, Ptr(x), Ptr(prediction), Ptr(y), n, transfer.A, transfer.B, transfer.C, transfer.D);
    }

    /// <summary>
    /// Classifier-free guidance: eps = u + g (c - u) with [u; c] = epsPair; returns TCNP = ||c - u||_2 over the whole
    /// batch, pending on the device. epsPair [2N, ..] (uncond first, as DdimSampler's UNet batch) -> eps [N, ..].
    /// </summary>
    public PendingNorm GuidanceCombine(Tensor epsPair, float guidance, Tensor eps)
    {
        Require(nameof(GuidanceCombine), epsPair.Shape[0] == 2 * eps.Shape[0] && epsPair.Length == 2 * eps.Length, epsPair, eps);
        long n = eps.Length;
        var (partials, blocks, owner) = Partials(n);
        if (n > 0)
            _kernels.GuidanceCombine.Launch(blocks, ReductionBlock, 0, Stream, Ptr(epsPair), Ptr(eps), partials, n, guidance);
        return SumToNorm(partials, blocks, owner);
    }

    /// <summary>
    /// One guided DDIM sampling step for N items, fused: p = u_i + g (c_i - u_i); y_i = transfer(x_i, p) (the step from a(t) to
    /// a(t_prev)); returns the items' TCNP ||c_i - u_i|| pending. epsPair [2N, ..] ([uncond x N; cond x N], as the UNet batch
    /// [x; x]), x [N, ..] -> y like x (may alias x).
    /// </summary>
    public PendingNorm GuidedDdimStep(Tensor epsPair, Tensor x, float guidance, DdimStepCoefficients transfer, Tensor y)
    {
        int items = x.Shape[0];
        var (totals, owner) = Scratch(items * 4L);
        GuidedDdimStep(epsPair, x, guidance, transfer, y, totals);
        return new PendingNorm(this, totals, items, owner);
    }

    // GuidedDdimStep writing the items' squared TCNP (fp32 [N]) to squaredTotals on the device
    private void GuidedDdimStep(Tensor epsPair, Tensor x, float guidance, DdimStepCoefficients transfer, Tensor y, DevicePointer squaredTotals)
    {
        Require(nameof(GuidedDdimStep), x.Rank >= 1 && epsPair.Shape[0] == 2 * x.Shape[0] && epsPair.Length == 2 * x.Length && x.Length == y.Length
            && x.Length > 0, epsPair, x, y);
        int items = x.Shape[0];
        long n = x.Length / items;
        int blocks = ReductionBlocks(n);
        var (partials, owner) = Scratch((long)items * blocks * 4);   // [N, blocks]
        _kernels.GuidedDdimStep.Launch(new Dim3((uint)blocks, (uint)items), ReductionBlock, 0, Stream, Ptr(epsPair), Ptr(x), Ptr(y), partials,
            n, guidance, transfer.A, transfer.B, transfer.C, transfer.D);
        _kernels.SumPartials.Launch(items, ReductionBlock, 0, Stream, partials, blocks, squaredTotals);   // one row per block
        ReleaseScratch(owner);
    }

    /// <summary>pair = [x; x] on the device: two device-to-device copies. x [N, ..] -> pair [2N, ..].</summary>
    public void DuplicateBatch(Tensor x, Tensor pair)
    {
        var from = Storage(x, nameof(DuplicateBatch));
        var to = Storage(pair, nameof(DuplicateBatch));
        if (pair.Length != 2 * x.Length)
            throw new ArgumentException($"{nameof(DuplicateBatch)}: [{x.ShapeText}] twice is not [{pair.ShapeText}]");
        long bytes = x.Length * CudaStorage.ElementBytes;
        Stream.CopyDeviceToDevice(from.Pointer, to.Pointer, bytes);
        Stream.CopyDeviceToDevice(from.Pointer, to.Pointer + bytes, bytes);
    }

    /// <summary>The CUDA form of <see cref="ISamplingSteps"/>: the fused kernels, and a TCNP log on the device.</summary>
    public ISamplingSteps SamplingSteps => _samplingSteps ??= new DeviceSamplingSteps(this);

    private DeviceSamplingSteps? _samplingSteps;

    private sealed class DeviceSamplingSteps(CudaBackend gpu) : ISamplingSteps
    {
        public void DuplicateBatch(Tensor x, Tensor pair) => gpu.DuplicateBatch(x, pair);

        public TcnpLog NewTcnpLog(int steps, int items) => new DeviceTcnpLog(gpu, steps, items);

        public void GuidedDdimStep(Tensor outputPair, Tensor x, float guidance, DdimStepCoefficients transfer, Tensor y, TcnpLog log, int step)
        {
            if (log is not DeviceTcnpLog record || record.Items != x.Shape[0] || step < 0 || step >= record.Steps)
                throw new ArgumentException($"{nameof(GuidedDdimStep)}: step {step} of a log of {log.Steps} steps x {log.Items} items for x [{x.ShapeText}]");
            gpu.GuidedDdimStep(outputPair, x, guidance, transfer, y, record.Row(step));
        }

        // the TCNP is not read: its scratch goes back to the pool at once
        public void GuidanceCombine(Tensor epsPair, float guidance, Tensor eps) => gpu.GuidanceCombine(epsPair, guidance, eps).Discard();

        public void DdimTransfer(Tensor x, Tensor prediction, DdimStepCoefficients transfer, Tensor y) => gpu.DdimTransfer(x, prediction, transfer, y);
    }

    // squared TCNP values [steps, items] in fp32 on the device, read once
    private sealed class DeviceTcnpLog : TcnpLog
    {
        private readonly CudaBackend _gpu;
        private readonly DevicePointer _squares;
        private readonly object _owner;
        private double[][]? _read;   // the values, once downloaded (the scratch block goes back to the pool then)

        public DeviceTcnpLog(CudaBackend gpu, int steps, int items) : base(steps, items)
        {
            _gpu = gpu;
            (_squares, _owner) = gpu.Scratch(Math.Max(1L, (long)steps * items) * 4);
            gpu.Stream.Fill(_squares, (long)steps * items * 4);
        }

        public DevicePointer Row(int step) => _squares + (long)step * Items * 4;

        public override double[][] Read()
        {
            if (_read is not null) return _read;
            var squares = new float[Steps * Items];
            _gpu.Stream.CopyToHost<float>(_squares, squares);
            ReleaseScratch(_owner);
            return _read = Enumerable.Range(0, Steps).Select(s => Enumerable.Range(0, Items).Select(i => Math.Sqrt(squares[s * Items + i])).ToArray()).ToArray();
        }
    }

    // A fixed number of blocks for n elements (so the reduction order, and the result, depend only on n).
    private static int ReductionBlocks(long n) => (int)Math.Clamp((n + ReductionBlock - 1) / ReductionBlock, 1, MaxReductionBlocks);

    private (DevicePointer Partials, int Blocks, object Owner) Partials(long n)
    {
        int blocks = ReductionBlocks(n);
        var (pointer, owner) = Scratch((blocks + 1) * 4L);  // the partials, then the total
        if (n == 0) Stream.Fill(pointer, (blocks + 1) * 4L);
        return (pointer, blocks, owner);
    }

    private PendingNorm SumToNorm(DevicePointer partials, int blocks, object owner)
    {
        var total = partials + blocks * 4L;
        _kernels.SumPartials.Launch(1, ReductionBlock, 0, Stream, partials, blocks, total);
        return new PendingNorm(this, total, 1, owner);
    }

    /// <summary>Norms computed on the device (one per item); <see cref="Read"/> waits for them (one download).</summary>
    public sealed class PendingNorm
    {
        private readonly CudaBackend _backend;
        private readonly DevicePointer _squared;
        private readonly int _count;
        private readonly object _owner;  // the scratch block, back to the pool once read
        private double[]? _read;

        internal PendingNorm(CudaBackend backend, DevicePointer squared, int count, object owner)
        {
            _backend = backend;
            _squared = squared;
            _count = count;
            _owner = owner;
        }

        /// <summary>sqrt of the summed squares of the one item (fp32 partial sums, as the reference's terms; the root in double).</summary>
        public double Read() => _count == 1 ? ReadAll()[0] : throw new InvalidOperationException($"{_count} norms pending; use {nameof(ReadAll)}");

        /// <summary>Gives the norms' scratch back unread (a caller that wanted the combination only); reading after this throws.</summary>
        public void Discard()
        {
            ReleaseScratch(_owner);
            _discarded = true;
        }

        private bool _discarded;

        /// <summary>Every item's norm.</summary>
        public double[] ReadAll()
        {
            if (_discarded) throw new InvalidOperationException("the norms were discarded unread");
            if (_read is not null) return _read;
            if (_backend._capturing) throw new InvalidOperationException("reading a norm during graph capture");
            var values = new float[_count];
            _backend.Stream.CopyToHost<float>(_squared, values);
            ReleaseScratch(_owner);
            return _read = values.Select(v => Math.Sqrt(v)).ToArray();
        }
    }
}
