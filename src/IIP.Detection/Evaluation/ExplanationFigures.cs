using IIP.Engine.Imaging;
using ScottPlot;

namespace IIP.Detection.Evaluation;

/// <summary>
/// What `iip explain` draws for one image: its input, VAE reconstruction and perturbed regeneration side by side, and
/// its TCNP per regeneration step against the band of the model's calibration images.
/// </summary>
public static class ExplanationFigures
{
    /// <summary>The smallest panel side: small images are enlarged by whole factors (nearest neighbour) so pixels stay visible.</summary>
    private const int MinPanel = 256;

    private const int Gap = 8;

    /// <summary>Writes the images left to right, each enlarged by the same whole factor, on a white background with gaps.</summary>
    public static void WritePanels(IReadOnlyList<RgbImage> panels, string path)
    {
        if (panels.Count == 0) throw new ArgumentException("no panels to draw");
        int factor = Math.Max(1, (MinPanel + panels.Max(p => p.Width) - 1) / panels.Max(p => p.Width));
        int width = panels.Sum(p => p.Width * factor) + Gap * (panels.Count - 1);
        int height = panels.Max(p => p.Height) * factor;
        var canvas = new RgbImage(width, height);
        Array.Fill(canvas.Pixels, (byte)255);
        int left = 0;
        foreach (var panel in panels)
        {
            for (int y = 0; y < panel.Height * factor; y++)
                for (int x = 0; x < panel.Width * factor; x++)
                    for (int c = 0; c < 3; c++)
                        canvas[left + x, y, c] = panel[x / factor, y / factor, c];
            left += panel.Width * factor + Gap;
        }
        ImageFile.SavePng(canvas, path);
    }

    /// <summary>
    /// TCNP per regeneration step (x: its timestep t, descending left to right as the regeneration runs) with the
    /// calibration band: p5 to p95 shaded, the median dashed; band[i] = [p5, p50, p95] of step i (may be null).
    /// </summary>
    public static void WriteTcnp(string title, int[] timesteps, double[] tcnp, double[][]? band, string path)
    {
        if (timesteps.Length != tcnp.Length) throw new ArgumentException($"{timesteps.Length} timesteps for {tcnp.Length} TCNP values");
        var plot = new Plot();
        var x = timesteps.Select(t => (double)t).ToArray();
        if (band is not null && band.Length == tcnp.Length)
        {
            var fill = plot.Add.FillY(x, band.Select(b => b[0]).ToArray(), band.Select(b => b[2]).ToArray());
            fill.FillColor = Colors.Gray.WithAlpha(0.3);
            fill.LegendText = "calibration images, 5th to 95th percentile";
            var median = plot.Add.Scatter(x, band.Select(b => b[1]).ToArray());
            median.LinePattern = LinePattern.Dashed;
            median.Color = Colors.Gray;
            median.MarkerSize = 0;
            median.LegendText = "calibration median";
        }
        var line = plot.Add.Scatter(x, tcnp);
        line.Color = Colors.Red;
        line.LineWidth = 2;
        line.MarkerSize = 5;
        line.LegendText = "this image";
        plot.Axes.SetLimitsX(x.Max() + 1, x.Min() - 1);   // the regeneration runs from large t to small
        plot.Title(title);
        plot.XLabel("timestep t of the regeneration step");
        plot.YLabel("TCNP = ||eps(z_t, c*) - eps(z_t, e0)||");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 800, 450);
    }
}
