namespace IIP.Engine.Weights;

/// <summary>The three weight-bearing parts of an SD v1 pipeline.</summary>
public enum ModelPart { Unet, Vae, TextEncoder }

/// <summary>How a checkpoint is laid out on disk.</summary>
public enum CheckpointLayout
{
    /// <summary>A diffusers pipeline folder: model_index.json, unet/, vae/, text_encoder/, scheduler/, tokenizer/.</summary>
    Diffusers,

    /// <summary>One CompVis/LDM .safetensors file (model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.*).</summary>
    SingleFileLdm,

    /// <summary>The engine's packed fp16 file (.iipw) written by weight-convert pack.</summary>
    Packed,
}

public static class ModelParts
{
    public static readonly ModelPart[] All = [ModelPart.Unet, ModelPart.Vae, ModelPart.TextEncoder];

    /// <summary>The diffusers sub-folder name: unet, vae, text_encoder.</summary>
    public static string FolderName(this ModelPart part) => part switch
    {
        ModelPart.Unet => "unet",
        ModelPart.Vae => "vae",
        ModelPart.TextEncoder => "text_encoder",
        _ => throw new ArgumentOutOfRangeException(nameof(part), part, null),
    };

    public static ModelPart Parse(string folderName) => folderName switch
    {
        "unet" => ModelPart.Unet,
        "vae" => ModelPart.Vae,
        "text_encoder" => ModelPart.TextEncoder,
        _ => throw new ArgumentException($"unknown model part '{folderName}' (unet, vae, text_encoder)"),
    };

    /// <summary>The weights file stem of a diffusers part folder (before ".safetensors" or ".&lt;variant&gt;.safetensors").</summary>
    public static string WeightsFileStem(this ModelPart part) => part == ModelPart.TextEncoder ? "model" : "diffusion_pytorch_model";
}
