namespace IIP.Engine.Weights;

/// <summary>
/// Where each tensor of a model part goes in one device allocation, and how the fp16 upload is staged: tensors are laid
/// out in name order at <see cref="Alignment"/>-byte offsets, and grouped into batches of consecutive tensors of at most
/// <c>stagingBytes</c> (one larger tensor is a batch of its own). Each batch is converted to fp16 into one host buffer and
/// copied with one transfer, so the weights are read once, converted once and copied once.
/// </summary>
public sealed class WeightUploadPlan
{
    public const int Alignment = 256;

    /// <summary>One tensor: its byte offset in the device allocation and element count (2 bytes each).</summary>
    public readonly record struct Slot(string Name, int[] Shape, long Offset, long Elements);

    /// <summary>Consecutive slots staged and copied together: device bytes [Offset, Offset + Bytes).</summary>
    public readonly record struct Batch(int FirstSlot, int SlotCount, long Offset, long Bytes);

    public IReadOnlyList<Slot> Slots { get; }
    public IReadOnlyList<Batch> Batches { get; }

    /// <summary>The device allocation's size in bytes.</summary>
    public long TotalBytes { get; }

    private WeightUploadPlan(List<Slot> slots, List<Batch> batches, long totalBytes)
    {
        Slots = slots;
        Batches = batches;
        TotalBytes = totalBytes;
    }

    /// <summary>The plan for every tensor of <paramref name="source"/> (shapes from its header; nothing is read).</summary>
    public static WeightUploadPlan For(IWeightSource source, long stagingBytes = 256L << 20) =>
        Create(source.Names.Order(StringComparer.Ordinal).Select(n => (n, source.Info(n).Shape)), stagingBytes);

    public static WeightUploadPlan Create(IEnumerable<(string Name, int[] Shape)> tensors, long stagingBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stagingBytes, Alignment);
        var slots = new List<Slot>();
        long offset = 0;
        foreach (var (name, shape) in tensors)
        {
            long elements = shape.Aggregate(1L, (a, d) => a * d);
            slots.Add(new Slot(name, shape, offset, elements));
            offset = AlignUp(offset + 2 * elements);
        }
        var batches = new List<Batch>();
        int first = 0;
        while (first < slots.Count)
        {
            int last = first;  // inclusive: the batch grows while the next tensor still ends within stagingBytes
            while (last + 1 < slots.Count && End(slots[last + 1]) - slots[first].Offset <= stagingBytes) last++;
            batches.Add(new Batch(first, last - first + 1, slots[first].Offset, End(slots[last]) - slots[first].Offset));
            first = last + 1;
        }
        return new WeightUploadPlan(slots, batches, offset);
    }

    private static long End(Slot slot) => slot.Offset + 2 * slot.Elements;

    private static long AlignUp(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;
}
