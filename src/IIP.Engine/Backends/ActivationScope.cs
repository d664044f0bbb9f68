using IIP.Engine.Tensors;

namespace IIP.Engine.Backends;

/// <summary>
/// The lifetime of a model's intermediate activations. Tensors that the current thread allocates on the backend
/// between <see cref="IBackend.OpenScope"/> and <see cref="Dispose"/> are dead when the scope closes, except the
/// ones passed to <see cref="Keep"/>: a backend with an activation pool takes the storage back then and hands it
/// out again to later allocations of the same size, instead of touching fresh memory for every op output.
/// <code>
/// using var scope = _be.OpenScope();
/// var h = ...;                       // intermediates
/// return scope.Keep(h);              // h (and every view of its storage) moves to the enclosing scope
/// </code>
/// Rules: close scopes in the reverse order of opening (a <c>using</c> in one method does that); keep every tensor
/// that leaves the scope, including tensors stored in a field, a list or a gradient tape; never use a view of a
/// storage that was not kept after the scope closes. Backends without a pool return <see cref="None"/>.
/// </summary>
public abstract class ActivationScope : IDisposable
{
    /// <summary>The scope of a backend that pools nothing: Keep and Dispose do nothing.</summary>
    public static ActivationScope None { get; } = new NoPool();

    /// <summary>Marks <paramref name="tensor"/>'s storage as outliving this scope and returns the tensor.</summary>
    public abstract Tensor Keep(Tensor tensor);

    /// <summary>Releases every storage allocated in this scope and not kept.</summary>
    public abstract void Dispose();

    private sealed class NoPool : ActivationScope
    {
        public override Tensor Keep(Tensor tensor) => tensor;

        public override void Dispose() { }
    }
}
