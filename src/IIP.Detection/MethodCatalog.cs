using IIP.Detection.Methods.FitGain;
using IIP.Detection.Methods;
using IIP.Detection.Methods.Baselines;

namespace IIP.Detection;

/// <summary>One method <c>iip scan --method</c> accepts: its name, a one-line description and whether it needs the caption.</summary>
public sealed record MethodDescription(string Name, string Description, bool NeedsCaption);

/// <summary>Every detection method by name, in the order help lists them (IIP.md "Baselines the tool must offer").</summary>
public static class MethodCatalog
{
    public static IReadOnlyList<MethodDescription> All { get; } =
    [
        new(IipMethod.Combined, "IIP (Jiang, Lin et al., ICLR 2025): MTCNP and similarity discrepancy of a perturbed regeneration from the inverted latent", false),
        new(IipMethod.MtcnpOnly, "IIP ablation: MTCNP alone (mean TCNP over the t_P regeneration steps --mtcnp-window selects)", false),
        new(IipMethod.SimilarityOnly, "IIP ablation: signed similarity discrepancy alone", false),
        new(OriPromptMethod.Name, "reference with the training caption: Wen et al. (ICLR 2024) TCNP averaged over the steps of generations from the caption", true),
        new(DenoisingLossMethod.Name, "membership baseline (Matsumoto et al. 2023): minus the unconditional denoising loss at fixed timesteps", false),
        new(PiaMethod.Name, "membership baseline PIA (Kong et al., ICLR 2024): minus ||eps(x_t, t) - eps(z0, 0)||_p with x_t built from eps(z0, 0)", false),
        new(SecMiMethod.Name, "membership baseline SecMI (Duan et al., ICML 2023): minus the t-error of a deterministic DDIM round trip", false),
        new(PiaMethod.StableDiffusionName, "PIA at its authors' Stable Diffusion settings (kong13661/PIA): the caption with guidance 7.5 at every prediction, t = 10, 20, ..., 500, p = 4, minus the mean log error", true),
        new(SecMiMethod.StableDiffusionName, "SecMI at SecMI-LDM's Stable Diffusion settings: the caption without guidance, t_SEC = 150, k = 10", true),
        new(FitGainMethod.Name, "beyond the paper: ln L(empty prompt) - ln L(c*), how much a prompt embedding optimized for the image (Adam from the empty prompt) lowers its denoising loss; the default detector on v-prediction models", false),
        new(IipFitMethod.Name, "beyond the paper: IIP's score plus the fit gain's robust z-score, scaled on the same calibration (or --reference) images as IIP", false),
    ];

    public static IReadOnlyList<string> Names { get; } = All.Select(m => m.Name).ToArray();

    /// <summary>The method called <paramref name="name"/> (exact, case-sensitive), or null.</summary>
    public static MethodDescription? Find(string name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>The method called <paramref name="name"/>; an unknown name is an error that lists the known ones.</summary>
    public static MethodDescription Require(string name) =>
        Find(name) ?? throw new ArgumentException($"unknown method '{name}'; known methods: {string.Join(", ", Names)}");
}
