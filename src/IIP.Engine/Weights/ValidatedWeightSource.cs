using IIP.Engine.Tensors;

namespace IIP.Engine.Weights;

/// <summary>
/// A part's weights after validation: exactly the expected parameter names, in the canonical
/// <see cref="SdParameterShapes"/> order, reading through to the underlying source (ignored buffers hidden). Every tensor
/// read through it is checked for NaN and infinity (<see cref="NonFiniteWeights"/>).
/// </summary>
public sealed class ValidatedWeightSource : IWeightSource, IHalfWeightSource
{
    private readonly IWeightSource _inner;
    private readonly HashSet<string> _names;
    private readonly string[] _ordered;

    public ValidatedWeightSource(IWeightSource inner, IReadOnlyList<ParameterShape> expected)
    {
        _inner = inner;
        _ordered = expected.Select(p => p.Name).ToArray();
        _names = new HashSet<string>(_ordered, StringComparer.Ordinal);
    }

    public string Origin => _inner.Origin;

    public IReadOnlyCollection<string> Names => _ordered;

    public WeightInfo Info(string name) => _inner.Info(Check(name));

    public Tensor Load(string name)
    {
        var tensor = _inner.Load(Check(name));
        long bad = NonFiniteWeights.FindFirst(tensor.Span);
        if (bad >= 0) NonFiniteWeights.Require(Origin, name, bad, tensor.Span[(int)bad]);
        return tensor;
    }

    public void LoadHalf(string name, Span<Half> destination)
    {
        if (_inner is IHalfWeightSource half)
            half.LoadHalf(Check(name), destination);
        else
        {
            var values = _inner.Load(Check(name));
            WeightDTypes.ToHalf(Origin, name, WeightDType.F32, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.Span), destination);
        }
        long bad = NonFiniteWeights.FindFirst(destination);
        if (bad >= 0) NonFiniteWeights.Require(Origin, name, bad, (float)destination[(int)bad], inHalf: true);
    }

    private string Check(string name) =>
        _names.Contains(name) ? name : throw new WeightException($"{Origin}: tensor '{name}' not found (not a parameter of this model)");
}
