using IIP.Detection.Methods;

namespace IIP.Detection.Tests.Detection;

/// <summary>The MTCNP window, the presets and the resume keys of <see cref="IipOptions"/>.</summary>
public sealed class IipOptionsTests
{
    private static readonly double[] Tcnp = [1, 2, 3, 4, 5, 6];   // one value per regeneration step, t descending

    [Fact]
    public void The_first_window_averages_the_first_steps_and_the_late_one_those_before_the_last()
    {
        Assert.Equal(2.0, IipOptions.MtcnpOf(Tcnp, 3, MtcnpWindow.First));   // 1, 2, 3
        Assert.Equal(4.0, IipOptions.MtcnpOf(Tcnp, 3, MtcnpWindow.Late));    // 3, 4, 5: the last step (6) is left out
        Assert.Equal(3.0, IipOptions.MtcnpOf(Tcnp, 5, MtcnpWindow.Late));    // 1..5
        Assert.Equal(3.0, IipOptions.MtcnpOf(Tcnp, 9, MtcnpWindow.Late));    // clipped to what there is
        Assert.Equal(7.0, IipOptions.MtcnpOf([7.0], 4, MtcnpWindow.Late));   // a one-step regeneration: its only value
        // the default: t_P = 4 late steps of the t_I = 20 regeneration, t = 81, 61, 41, 21
        var o = new IipOptions();
        var twenty = Enumerable.Range(0, 20).Select(i => (double)(381 - 20 * i)).ToArray();   // each step's timestep as its value
        Assert.Equal((81 + 61 + 41 + 21) / 4.0, o.Mtcnp(twenty));
    }

    [Fact]
    public void The_late_window_cannot_take_the_last_step()
    {
        var e = Assert.Throws<ArgumentException>(() => new IipOptions { InversionSteps = 4, MtcnpSteps = 4 }.Validate());
        Assert.Contains("must be in 1..3 (the late window", e.Message);
        new IipOptions { InversionSteps = 4, MtcnpSteps = 4, MtcnpWindow = MtcnpWindow.First }.Validate();
        var one = Assert.Throws<ArgumentException>(() => new IipOptions { InversionSteps = 1, MtcnpSteps = 1 }.Validate());
        Assert.Contains("needs t_I >= 2; with t_I = 1 use --mtcnp-window first", one.Message);   // not "must be in 1..0"
        new IipOptions { InversionSteps = 1, MtcnpSteps = 1, MtcnpWindow = MtcnpWindow.First }.Validate();
    }

    [Fact]
    public void The_paper_preset_is_IIP_md_and_the_default_preset_the_options_defaults()
    {
        var paper = IipPresets.Paper;
        Assert.Equal((20, 10, MtcnpWindow.First, 1.0, 1.0, ScaleStatistic.Median, DiscrepancyTransform.Linear, 0),
            (paper.InversionSteps, paper.MtcnpSteps, paper.MtcnpWindow, paper.LambdaE, paper.LambdaD, paper.ScaleStatistic, paper.DiscrepancyTransform, paper.CalibrationImages));
        Assert.Equal(new IipOptions(), IipPresets.Default);
        Assert.Equal(IipPresets.Default, IipPresets.Of(IipPreset.Default));
    }

    [Fact]
    public void The_log_discrepancy_is_floored_and_cannot_be_scaled_by_a_median()
    {
        var o = new IipOptions();
        Assert.Equal(Math.Log(0.01), o.DiscrepancyTerm(0.01), 15);
        Assert.Equal(Math.Log(1e-12), o.DiscrepancyTerm(0), 15);        // a cosine rounded to 1
        Assert.Equal(Math.Log(1e-12), o.DiscrepancyTerm(-1e-17), 15);   // or just above it
        Assert.Equal(0.01, IipPresets.Paper.DiscrepancyTerm(0.01));
        var e = Assert.Throws<ArgumentException>(() => (o with { ScaleStatistic = ScaleStatistic.Median }).Validate());
        Assert.Contains("use the linear discrepancy transform with median scales", e.Message);
    }

    [Fact]
    public void A_window_or_centre_changes_the_score_key_and_the_first_window_keeps_the_key_it_had()
    {
        var first = IipPresets.Paper;
        Assert.NotEqual(first.ScoreKey(), (first with { MtcnpWindow = MtcnpWindow.Late }).ScoreKey());
        Assert.NotEqual(first.ScoreKey(), (first with { CenterE = 0.5 }).ScoreKey());
        Assert.NotEqual(first.ScoreKey(), (first with { DiscrepancyTransform = DiscrepancyTransform.Log, ScaleStatistic = ScaleStatistic.RobustZ }).ScoreKey());
        // the key string of the first window has no window part, as before the window existed
        Assert.Equal("", first.WindowKey());
        Assert.Equal(first.PerturbationKey(), new IipOptions().PerturbationKey());   // the presets share the perturbation embedding
    }
}
