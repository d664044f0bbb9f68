namespace IIP.Engine.Backends.Cpu.Gemm;

/// <summary>
/// A bias the GEMM driver adds to C: <c>PerRow[i]</c> to row i (a convolution's bias, one per output channel) and/or
/// <c>PerColumn[j]</c> to column j (a linear layer's, one per output feature). It joins the first depth block's sum, so
/// C = op(A) op(B) + bias (alpha 1, beta 0) rounds exactly as when C held the bias and beta was 1 (the old way, which
/// cost a pass writing the bias into C and a read of C in every first-block tile).
/// </summary>
internal readonly unsafe struct GemmBias(float* perRow, float* perColumn)
{
    public float* PerRow => perRow;

    public float* PerColumn => perColumn;

    public bool IsPresent => perRow != null || perColumn != null;

    public static GemmBias Rows(float* bias) => new(bias, null);

    public static GemmBias Columns(float* bias) => new(null, bias);

    /// <summary>The row bias from row <paramref name="i"/> on (null when there is none).</summary>
    public float* Row(int i) => perRow == null ? null : perRow + i;

    /// <summary>The column bias from column <paramref name="j"/> on (null when there is none).</summary>
    public float* Column(int j) => perColumn == null ? null : perColumn + j;
}
