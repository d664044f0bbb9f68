using IIP.Engine.Scheduling;
using IIP.Engine.Tensors;

namespace IIP.Engine.Backends;

/// <summary>
/// <see cref="ISamplingSteps"/> on host tensors in fp32, the reference of the fused CUDA kernels (kernels/ddim.cu and
/// guidance.cu): the form of every backend whose tensors live on the host (the CPU backend and its diagnostic wrappers).
/// </summary>
public sealed class HostSamplingSteps : ISamplingSteps
{
    public static HostSamplingSteps Instance { get; } = new();

    private HostSamplingSteps() { }

    public void DuplicateBatch(Tensor x, Tensor pair)
    {
        var host = Host(x);
        if (pair.Length != 2 * host.Length) throw new ArgumentException($"{nameof(DuplicateBatch)}: [{host.ShapeText}] twice is not [{pair.ShapeText}]");
        host.Data.CopyTo(Host(pair).Data, 0);
        host.Data.CopyTo(pair.Data, (int)host.Length);
    }

    public TcnpLog NewTcnpLog(int steps, int items) => new HostTcnpLog(steps, items);

    public void GuidedDdimStep(Tensor outputPair, Tensor x, float guidance, DdimStepCoefficients transfer, Tensor y, TcnpLog log, int step)
    {
        var pair = Host(outputPair).Data;
        var latents = Host(x);
        int items = latents.Shape[0];
        int n = (int)latents.Length, perItem = n / items;
        if (pair.Length != 2L * n || y.Length != n || log is not HostTcnpLog record || record.Items != items)
            throw new ArgumentException($"{nameof(GuidedDdimStep)}: output pair [{outputPair.ShapeText}], x [{x.ShapeText}], y [{y.ShapeText}], a log of {log.Items} items");
        var eps = new float[n];
        for (int item = 0; item < items; item++)
        {
            double sq = 0;
            for (int i = item * perItem; i < (item + 1) * perItem; i++)
            {
                float diff = pair[n + i] - pair[i];
                sq += (double)diff * diff;
                eps[i] = pair[i] + guidance * diff;
            }
            record.Squares[step][item] = sq;
        }
        transfer.Apply(latents.Data, eps, Host(y).Data);
    }

    public void GuidanceCombine(Tensor epsPair, float guidance, Tensor eps)
    {
        var pair = Host(epsPair).Data;
        var result = Host(eps).Data;
        long n = result.LongLength;
        if (pair.LongLength != 2 * n) throw new ArgumentException($"{nameof(GuidanceCombine)}: eps pair [{epsPair.ShapeText}], eps [{eps.ShapeText}]");
        for (long i = 0; i < n; i++) result[i] = pair[i] + guidance * (pair[n + i] - pair[i]);
    }

    public void DdimTransfer(Tensor x, Tensor prediction, DdimStepCoefficients transfer, Tensor y) =>
        transfer.Apply(Host(x).Data, Host(prediction).Data, Host(y).Data);

    private static Tensor Host(Tensor t) =>
        t.IsHost ? t : throw new ArgumentException($"host sampling steps need host tensors; [{t.ShapeText}] is on {t.Placement}");

    private sealed class HostTcnpLog(int steps, int items) : TcnpLog(steps, items)
    {
        public double[][] Squares { get; } = Enumerable.Range(0, steps).Select(_ => new double[items]).ToArray();

        public override double[][] Read() => Squares.Select(row => row.Select(Math.Sqrt).ToArray()).ToArray();
    }
}
