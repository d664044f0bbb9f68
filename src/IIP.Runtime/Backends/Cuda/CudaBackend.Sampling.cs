using IIP.Native;
using Tensor = IIP.Runtime.Tensors.Tensor;

namespace IIP.Runtime.Backends.Cuda;

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
    /// x0 = (x - sqrt(1 - aFrom) eps) / sqrt(aFrom); y = sqrt(aTo) x0 + sqrt(1 - aTo) eps.
    /// x, eps [..] -> y like x (may alias x). The square roots are taken in fp32 as DdimScheduler does.
    /// </summary>
    public void DdimTransfer(Tensor x, Tensor eps, float alphaFrom, float alphaTo, Tensor y)
    {
        Require(nameof(DdimTransfer), x.Length == eps.Length && x.Length == y.Length, x, eps, y);
        long n = x.Length;
        LaunchElementwise(_kernels.DdimTransfer, n, Ptr(x), Ptr(eps), Ptr(y), n,
            MathF.Sqrt(alphaFrom), MathF.Sqrt(1f - alphaFrom), MathF.Sqrt(alphaTo), MathF.Sqrt(1f - alphaTo));
    }

    /// <summary>
    /// Classifier-free guidance: eps = u + g (c - u) with [u, c] = epsPair; returns TCNP = ||c - u||_2 over the whole
    /// latent, pending on the device. epsPair [2, ..] (uncond first, as StableDiffusion.GuidedNoise) -> eps [..].
    /// </summary>
    public PendingNorm GuidanceCombine(Tensor epsPair, float guidance, Tensor eps)
    {
        Require(nameof(GuidanceCombine), epsPair.Shape[0] == 2 && epsPair.Length == 2 * eps.Length, epsPair, eps);
        long n = eps.Length;
        var (partials, blocks, owner) = Partials(n);
        if (n > 0)
            _kernels.GuidanceCombine.Launch(blocks, ReductionBlock, 0, Stream, Ptr(epsPair), Ptr(eps), partials, n, guidance);
        return SumToNorm(partials, blocks, owner);
    }

    /// <summary>
    /// One guided DDIM sampling step, fused: eps = u + g (c - u); y = transfer(x, eps) from alpha a(t) to a(t_prev); returns
    /// the step's TCNP pending. epsPair [2, ..], x [..] -> y like x (may alias x).
    /// </summary>
    public PendingNorm GuidedDdimStep(Tensor epsPair, Tensor x, float guidance, float alphaFrom, float alphaTo, Tensor y)
    {
        Require(nameof(GuidedDdimStep), epsPair.Shape[0] == 2 && epsPair.Length == 2 * x.Length && x.Length == y.Length, epsPair, x, y);
        long n = x.Length;
        var (partials, blocks, owner) = Partials(n);
        if (n > 0)
            _kernels.GuidedDdimStep.Launch(blocks, ReductionBlock, 0, Stream, Ptr(epsPair), Ptr(x), Ptr(y), partials, n, guidance,
                MathF.Sqrt(alphaFrom), MathF.Sqrt(1f - alphaFrom), MathF.Sqrt(alphaTo), MathF.Sqrt(1f - alphaTo));
        return SumToNorm(partials, blocks, owner);
    }

    // A fixed number of blocks for n elements (so the reduction order, and the result, depend only on n).
    private (DevicePointer Partials, int Blocks, object Owner) Partials(long n)
    {
        int blocks = (int)Math.Clamp((n + ReductionBlock - 1) / ReductionBlock, 1, MaxReductionBlocks);
        var (pointer, owner) = Scratch((blocks + 1) * 4L);  // the partials, then the total
        if (n == 0) Stream.Fill(pointer, (blocks + 1) * 4L);
        return (pointer, blocks, owner);
    }

    private PendingNorm SumToNorm(DevicePointer partials, int blocks, object owner)
    {
        var total = partials + blocks * 4L;
        _kernels.SumPartials.Launch(1, ReductionBlock, 0, Stream, partials, blocks, total);
        return new PendingNorm(this, total, owner);
    }

    /// <summary>A norm computed on the device; <see cref="Read"/> waits for it (one 4-byte download).</summary>
    public sealed class PendingNorm
    {
        private readonly CudaBackend _backend;
        private readonly DevicePointer _squared;
        private readonly object _owner;  // keeps the scratch block until read

        internal PendingNorm(CudaBackend backend, DevicePointer squared, object owner)
        {
            _backend = backend;
            _squared = squared;
            _owner = owner;
        }

        /// <summary>sqrt of the summed squares (fp32 partial sums, as the reference's terms; the root in double).</summary>
        public double Read()
        {
            if (_backend._capturing) throw new InvalidOperationException("reading a norm during graph capture");
            Span<float> value = stackalloc float[1];
            _backend.Stream.CopyToHost(_squared, value);
            GC.KeepAlive(_owner);
            return Math.Sqrt(value[0]);
        }
    }
}
