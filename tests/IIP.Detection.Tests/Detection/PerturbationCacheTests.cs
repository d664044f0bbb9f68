using IIP.Detection.Methods;
using IIP.Engine.Backends.Cpu;
using IIP.Engine.Pipelines;
using IIP.Engine.Weights;

namespace IIP.Detection.Tests.Detection;

/// <summary>The perturbation embedding is optimized once per model and options, then read from the cache.</summary>
public class PerturbationCacheTests
{
    [Fact]
    public void Second_session_reads_the_cache_and_other_options_get_their_own_entry()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(Path.Combine(TestPaths.Testbed, "model"));
        var model = new StableDiffusion(checkpoint, CpuBackend.Instance);
        string cache = TestPaths.NewTempDir("perturbation-cache");
        var options = new IipOptions { InversionSteps = 4, MtcnpSteps = 2, PerturbationIterations = 2, PerturbationNoiseLatents = 1 };
        const string Fingerprint = "0123456789abcdef0123456789abcdef";

        var first = new IipSession(model, options, Fingerprint, cache);
        Assert.False(first.Perturbation.FromCache);
        Assert.Equal(2, first.Perturbation.Losses.Length);
        Assert.Single(Directory.GetFiles(cache));

        var second = new IipSession(model, options, Fingerprint, cache);
        Assert.True(second.Perturbation.FromCache);
        Assert.Equal(first.Perturbation.Embedding.Data, second.Perturbation.Embedding.Data);
        // the cache stores the losses as fp32
        Assert.Equal(first.Perturbation.Losses.Select(v => (float)v), second.Perturbation.Losses.Select(v => (float)v));

        // the optimization moved the embedding away from "ata", except token 0 (BOS): its gradient is zeroed, so
        // only AdamW's decoupled weight decay touches it, p <- p (1 - lr wd) per step (lr 0.05, wd 0.01, 2 steps)
        var start = model.Backend.ToHost(model.EncodePrompts(["ata"]));
        int width = start.Dim(-1);
        Assert.NotEqual(start.Data, first.Perturbation.Embedding.Data);
        double decay = Math.Pow(1 - 0.05 * 0.01, 2);
        for (int i = 0; i < width; i++)
            Assert.Equal(start.Data[i] * decay, first.Perturbation.Embedding.Data[i], 5);

        var other = new IipSession(model, options with { PerturbationLearningRate = 0.01 }, Fingerprint, cache);
        Assert.False(other.Perturbation.FromCache);
        Assert.Equal(2, Directory.GetFiles(cache).Length);
        var otherModel = new IipSession(model, options, "fedcba9876543210fedcba9876543210", cache);
        Assert.False(otherModel.Perturbation.FromCache);
    }

    [Fact]
    public void A_non_finite_embedding_is_never_cached_and_a_failed_write_leaves_no_temporary_file()
    {
        using var checkpoint = StableDiffusionCheckpoint.Open(Path.Combine(TestPaths.Testbed, "model"));
        var model = new StableDiffusion(checkpoint, CpuBackend.Instance);
        const string Fingerprint = "0123456789abcdef0123456789abcdef";
        var options = new IipOptions { InversionSteps = 4, MtcnpSteps = 2, PerturbationIterations = 2, PerturbationNoiseLatents = 1 };

        // AdamW steps of 1e38 push the embedding past float's range
        string cache = TestPaths.NewTempDir("perturbation-nonfinite");
        var e = Assert.Throws<InvalidOperationException>(() => new IipSession(model, options with { PerturbationLearningRate = 1e38 }, Fingerprint, cache));
        Assert.Contains("became non-finite", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(cache));

        // the cache entry's name is taken by a folder: the write fails, and its temporary file goes with it
        string blocked = TestPaths.NewTempDir("perturbation-blocked");
        Directory.CreateDirectory(Path.Combine(blocked, $"perturbation-{Fingerprint[..16]}-{options.PerturbationKey()}.safetensors"));
        Assert.ThrowsAny<IOException>(() => new IipSession(model, options, Fingerprint, blocked));
        Assert.Empty(Directory.GetFiles(blocked));
    }
}
