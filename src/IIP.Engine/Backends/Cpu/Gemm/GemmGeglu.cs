namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// GEGLU applied to the product as it leaves the GEMM driver (the feed-forward projection of SD's transformer blocks,
/// y = hidden * gelu(gate) with [hidden | gate] = x W^T + b), so the [M, 2D] projection is never stored. The B operand's
/// columns come in half panels (<see cref="CpuPackedWeights.GegluRowsAsB"/>): panel j holds hidden features
/// [j h, j h + h) and then their gates [D + j h, D + j h + h), h = NR / 2, so every tile holds a hidden block and its
/// gate. Work items accumulate in a private block (in L2); the bias joins a tile after its first depth block, as in a
/// plain product; at the end of the item
/// <code>
/// y[i, j h + t] = C[i, j NR + t] gelu(C[i, j NR + h + t])      t &lt; h
/// </code>
/// </summary>
internal readonly unsafe struct GemmGeglu(float* y, int ldy, float* bias, int d)
{
    public bool IsPresent => y != null;

    /// <summary>Adds the bias of B panel <paramref name="panel"/> to a tile of rows x NR in the permuted column order.</summary>
    public void AddBias(float* tile, int ld, int rows, int panel, int nr)
    {
        if (bias == null) return;
        int h = nr / 2;
        GemmDriver.AddBias(tile, ld, rows, h, null, bias + panel * h);
        GemmDriver.AddBias(tile + h, ld, rows, h, null, bias + d + panel * h);
    }

    /// <summary>
    /// y rows [row0, row0 + rows), features [panel0 h, (panel0 + panels) h) from an item's block (rows x panels NR, stride
    /// ld) in the permuted column order.
    /// </summary>
    public void Apply(float* block, int ld, int row0, int rows, int panel0, int panels, int nr)
    {
        int h = nr / 2;
        for (int r = 0; r < rows; r++)
        {
            float* src = block + (long)r * ld, dst = y + (long)(row0 + r) * ldy + panel0 * h;
            for (int j = 0; j < panels; j++, src += nr, dst += h)
                VectorMath.Geglu(src, src + h, dst, h);
        }
    }
}
