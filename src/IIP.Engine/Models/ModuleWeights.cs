using IIP.Engine.Backends;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;

namespace IIP.Engine.Models;

/// <summary>
/// The weights of one module: a view of an <see cref="IWeightSource"/> under a name prefix, with tensors
/// moved to the backend as they are read (or taken as they are from a source of <see cref="IResidentWeights"/> on it). <c>Sub("down_blocks.0")</c> descends one module, so a
/// weight name in a checkpoint leads to the class that reads it.
/// </summary>
public sealed class ModuleWeights
{
    private readonly IWeightSource _source;
    private readonly string _prefix;

    public IBackend Backend { get; }

    public ModuleWeights(IWeightSource source, IBackend backend, string prefix = "")
    {
        _source = source;
        Backend = backend;
        _prefix = prefix;
    }

    public ModuleWeights Sub(string name) => new(_source, Backend, _prefix + name + ".");

    public ModuleWeights Sub(string name, int index) => Sub($"{name}.{index}");

    public bool Has(string name) => _source.Names.Contains(_prefix + name);

    /// <summary>"FILE: tensor 'NAME'" for tensor <paramref name="name"/> of this module, for error messages.</summary>
    public string Describe(string name) => $"{_source.Origin}: tensor '{_prefix + name}'";

    /// <summary>The tensor <c>prefix + name</c> on the backend.</summary>
    public Tensor this[string name]
    {
        get
        {
            string full = _prefix + name;
            if (!_source.Names.Contains(full))
                throw new WeightException($"{_source.Origin}: missing tensor '{full}'");
            if (_source is IResidentWeights resident && ReferenceEquals(resident.Backend, Backend))
                return resident.Resident(full).AsConstant();
            return Backend.FromHost(_source.Load(full)).AsConstant();
        }
    }

    public Tensor? Optional(string name) => Has(name) ? this[name] : null;

    /// <summary>Whether any tensor lives under <c>prefix + name.</c>.</summary>
    public bool HasModule(string name)
    {
        string p = _prefix + name + ".";
        return _source.Names.Any(n => n.StartsWith(p, StringComparison.Ordinal));
    }

    /// <summary>How many numbered children <c>name.0</c>, <c>name.1</c>, ... exist.</summary>
    public int CountChildren(string name)
    {
        int count = 0;
        while (HasModule($"{name}.{count}")) count++;
        return count;
    }
}
