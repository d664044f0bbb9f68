using IIP.Engine.Scheduling;
using IIP.Engine.Tensors;

namespace IIP.Engine.Backends;

/// <summary>
/// The arithmetic of one DDIM sampling or inversion step on a backend, between two UNet calls (Sampling/DdimSampler
/// drives it): the latents stay where the backend keeps them, so on the CUDA backend a whole loop runs on the device and
/// the host reads the TCNP values once, at the end. The CPU form (<see cref="HostSamplingSteps"/>) is the reference.
/// Formulas: classifier-free guidance p = u + g (c - u) and TCNP = ||c - u||_2 (Wen et al. 2024) on the UNet's outputs
/// (the noise, or v); the DDIM transfer of <see cref="DdimStepCoefficients"/> (Song et al. 2021, eq. 12, eta 0).
/// </summary>
public interface ISamplingSteps
{
    /// <summary>pair = [x; x]: x [N, ..] -> pair [2N, ..], both on the backend (the batch of one guided UNet call).</summary>
    void DuplicateBatch(Tensor x, Tensor pair);

    /// <summary>A record of <paramref name="steps"/> x <paramref name="items"/> TCNP values, kept on the backend until read.</summary>
    TcnpLog NewTcnpLog(int steps, int items);

    /// <summary>
    /// One guided step for N items: with [u; c] = outputPair [2N, ..] (uncond first), p = u + g (c - u) and
    /// y = transfer(x, p) with <paramref name="transfer"/>; item i's TCNP ||c_i - u_i|| goes to log[step, i].
    /// x [N, ..] -> y [N, ..] (may alias x).
    /// </summary>
    void GuidedDdimStep(Tensor outputPair, Tensor x, float guidance, DdimStepCoefficients transfer, Tensor y, TcnpLog log, int step);

    /// <summary>Classifier-free guidance eps = u + g (c - u) with [u; c] = epsPair [2N, ..] (uncond first) -> eps [N, ..].</summary>
    void GuidanceCombine(Tensor epsPair, float guidance, Tensor eps);

    /// <summary>x0 = (x - B p) / A; y = C x0 + D p with <paramref name="transfer"/> (A..D). x, p -> y (may alias x).</summary>
    void DdimTransfer(Tensor x, Tensor prediction, DdimStepCoefficients transfer, Tensor y);
}

/// <summary>TCNP values of a sampling loop, [steps][items], on the backend that computed them.</summary>
public abstract class TcnpLog(int steps, int items)
{
    public int Steps { get; } = steps;

    public int Items { get; } = items;

    /// <summary>The values, [step][item] = ||c - u||_2 (one read of the whole log).</summary>
    public abstract double[][] Read();
}
