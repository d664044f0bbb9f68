namespace IIP.Detection.Methods.Baselines;

/// <summary>Which text conditioning a membership baseline's noise predictions use.</summary>
public enum BaselineConditioning
{
    /// <summary>The empty prompt e0: prompt-free, as IIP is.</summary>
    Empty,

    /// <summary>The image's caption, as the authors' Stable Diffusion code does (PIA, SecMI-LDM): needs the caption.</summary>
    Caption,
}
