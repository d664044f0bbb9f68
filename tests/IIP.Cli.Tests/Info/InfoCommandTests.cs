namespace IIP.Cli.Tests.Info;

[Collection("Console")]
public sealed class InfoCommandTests
{
    [Fact]
    public void DescribesTheDiffusersFolder()
    {
        var result = CliRunner.Run("info", "--model", TestPaths.TinySdDiffusers);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("layout:       Diffusers", result.Stdout);
        Assert.Contains("block_out_channels=[32,64,128,128]", result.Stdout);
        Assert.Contains("686 tensors, 8,765,028 parameters, dtypes F32 x686", result.Stdout);
        Assert.Contains("244 tensors, 1,399,879 parameters, dtypes F32 x244", result.Stdout);
        Assert.Contains("36 tensors, 6,730,880 parameters, dtypes F32 x36", result.Stdout);
        Assert.Contains("total:        16,895,787 parameters", result.Stdout);
        Assert.Contains(Path.Combine(TestPaths.TinySdDiffusers, "tokenizer"), result.Stdout);
        Assert.Contains("engine: CUDA graphs on; cuBLAS off; CUDA GEMM main loop register-staged", result.Stdout);
    }

    [Fact]
    public void AnEngineSwitchWithAnUnknownValueIsBadInputNamingIt()
    {
        Environment.SetEnvironmentVariable("IIP_GEMM_PIPELINE", "wgmma");
        try
        {
            var result = CliRunner.Run("info", "--model", TestPaths.TinySdDiffusers);
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("IIP_GEMM_PIPELINE=wgmma: expected cp.async or register", result.Stderr);
        }
        finally
        {
            Environment.SetEnvironmentVariable("IIP_GEMM_PIPELINE", null);
        }
    }

    [Fact]
    public void DescribesTheSingleFileLdmCheckpointAsF16()
    {
        var result = CliRunner.Run("info", "--model", TestPaths.TinySdLdm);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("layout:       SingleFileLdm", result.Stdout);
        Assert.Contains("686 tensors, 8,765,028 parameters, dtypes F16 x686", result.Stdout);
        Assert.Contains("tokenizer:    (none", result.Stdout);
        Assert.Contains("num_hidden_layers=2 num_attention_heads=2", result.Stdout);
    }

    [Fact]
    public void MissingModelIsAnErrorNamingThePath()
    {
        string missing = Path.Combine(TestPaths.NewTempDir("info-missing"), "none.safetensors");
        var result = CliRunner.Run("info", "--model", missing);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"error: {missing}", result.Stderr);
    }

    [Fact]
    public void HelpNamesTheOptions()
    {
        var result = CliRunner.Run("info", "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--model", result.Stdout);
        Assert.Contains("--tokenizer", result.Stdout);
    }
}
