using IIP.Engine.Tensors;

namespace IIP.Engine.Backends;

/// <summary>
/// A weight source whose tensors already live on a backend (uploaded together, e.g. into one device allocation):
/// <see cref="Models.ModuleWeights"/> takes them from here instead of uploading each tensor it reads.
/// </summary>
public interface IResidentWeights
{
    /// <summary>The backend the tensors live on.</summary>
    IBackend Backend { get; }

    /// <summary>Tensor <paramref name="name"/> on <see cref="Backend"/>.</summary>
    Tensor Resident(string name);
}
