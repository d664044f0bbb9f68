using IIP.TestSupport.References;
using IIP.Engine.Backends;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Tests.Models;

namespace IIP.Engine.Tests.Backends;

/// <summary>
/// <see cref="ActivationScope"/> on the CPU backend's activation pool: storage released by a closed scope is handed out
/// again, kept storage never is, kept storage moves to the enclosing scope, and a model forward that releases its
/// intermediates returns the same values as one that does not. Each test uses its own backend (its own pool).
/// </summary>
public sealed class CpuActivationPoolTests
{
    [Fact]
    public void StorageReleasedByAScopeIsReusedForTheSameLength()
    {
        var be = new CpuBackend();
        float[] first;
        using (be.OpenScope()) first = be.Allocate(4, 5).Data;
        Assert.Equal(80L, be.IdleActivationBytes);
        using (be.OpenScope())
        {
            Assert.Same(first, be.Allocate(20).Data);        // same length, another shape
            Assert.NotSame(first, be.Allocate(4, 5).Data);   // the only idle array is taken
            Assert.Equal(21, be.Allocate(21).Data.Length);   // no array of that length is idle
        }
    }

    [Fact]
    public void WithoutAScopeNothingIsPooled()
    {
        var be = new CpuBackend();
        var a = be.Allocate(16);
        var b = be.Allocate(16);
        Assert.NotSame(a.Data, b.Data);
        Assert.Equal(0L, be.IdleActivationBytes);
    }

    [Fact]
    public void KeptStorageIsNotReusedAndAViewKeepsItsStorage()
    {
        var be = new CpuBackend();
        float[] kept;
        using (var scope = be.OpenScope())
        {
            var y = be.Allocate(2, 8);
            kept = scope.Keep(y.Reshape(16)).Data;
            be.Allocate(16);                                  // released
        }
        Assert.Equal(64L, be.IdleActivationBytes);
        using (be.OpenScope())
        {
            Assert.NotSame(kept, be.Allocate(16).Data);
            Assert.NotSame(kept, be.Allocate(16).Data);       // a fresh one: the kept array never entered the pool
        }
    }

    [Fact]
    public void KeptStorageMovesToTheEnclosingScope()
    {
        var be = new CpuBackend();
        using (var outer = be.OpenScope())
        {
            using (var inner = be.OpenScope())
                inner.Keep(be.Allocate(32));
            Assert.Equal(0L, be.IdleActivationBytes);       // still live in the outer scope
        }
        Assert.Equal(128L, be.IdleActivationBytes);         // released with the outer scope
    }

    [Fact]
    public void ClosingAnOuterScopeBeforeAnInnerOneThrows()
    {
        var be = new CpuBackend();
        var outer = be.OpenScope();
        var inner = be.OpenScope();
        var error = Assert.Throws<InvalidOperationException>(outer.Dispose);
        Assert.Contains("out of order", error.Message);
        inner.Dispose();
        outer.Dispose();
    }

    [Fact]
    public void UnetForwardsWithReusedActivationsAreBitwiseEqual()
    {
        // The shared tiny UNet on the pooled CPU backend: the second forward runs on arrays the first released, so any
        // intermediate released while still in use (or an output not kept) changes its result.
        var x = SmallSdLoaded.Latent(seed: 30, n: 2);
        var context = SmallSdLoaded.Context(seed: 31, n: 2);
        float[] timesteps = [501, 21];
        var first = SmallSdLoaded.Unet.Forward(x, timesteps, context).Data.ToArray();
        var again = SmallSdLoaded.Unet.Forward(x, timesteps, context);
        var other = SmallSdLoaded.Unet.Forward(SmallSdLoaded.Latent(seed: 32, n: 2), timesteps, context);
        Assert.Equal(first, again.Data);
        Assert.NotEqual(first, other.Data);
        Assert.Equal(first, again.Data);                     // the kept output survives a later forward
    }
}
