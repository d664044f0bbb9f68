namespace IIP.Engine.Weights;

/// <summary>
/// A weight source that can hand out tensors as fp16 without an fp32 copy (for fp16 device buffers and
/// the packed writer). F16 storage is copied as is; F32/BF16 are rounded to nearest even and a value that
/// overflows fp16 is an error naming the tensor.
/// </summary>
public interface IHalfWeightSource
{
    /// <summary>Writes tensor <paramref name="name"/> as fp16 into <paramref name="destination"/> (exactly its element count).</summary>
    void LoadHalf(string name, Span<Half> destination);
}
