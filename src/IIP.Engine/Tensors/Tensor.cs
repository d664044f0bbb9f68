namespace IIP.Engine.Tensors;

/// <summary>
/// A dense, row-major fp32 tensor. Host tensors own a <c>float[]</c>; a device backend keeps its
/// buffer in <see cref="Storage"/> and leaves <see cref="Data"/> unavailable until copied back.
/// Reshape shares storage; nothing else aliases.
/// </summary>
public sealed class Tensor
{
    private readonly float[]? _host;

    public int[] Shape { get; }

    /// <summary>Backend-owned device storage (null for host tensors).</summary>
    public IDeviceStorage? Storage { get; }

    /// <summary>Where the elements are: <c>host</c> or the device's name.</summary>
    public string Placement => Storage?.DeviceName ?? "host";

    public Tensor(int[] shape, float[]? data = null)
    {
        Shape = (int[])shape.Clone();
        long n = ElementCount(shape);
        if (data is not null && data.Length != n)
            throw new ArgumentException($"data has {data.Length} elements, shape [{string.Join(", ", shape)}] needs {n}");
        _host = data ?? new float[n];
    }

    private Tensor(int[] shape, float[]? host, IDeviceStorage? storage)
    {
        Shape = shape;
        _host = host;
        Storage = storage;
    }

    /// <summary>A tensor of <paramref name="shape"/> over a backend's <paramref name="storage"/>.</summary>
    public static Tensor OnDevice(int[] shape, IDeviceStorage storage) => new((int[])shape.Clone(), null, storage);

    public static Tensor Zeros(params int[] shape) => new(shape);

    public static Tensor From(float[] data, params int[] shape) => new(shape, data);

    public bool IsHost => _host is not null;

    /// <summary>
    /// Model weights: the values never change after loading, so a backend may cache layouts derived from them
    /// (the CPU backend packs them into GEMM panels once). Set by <see cref="AsConstant"/>; views do not inherit it.
    /// </summary>
    public bool IsConstant { get; private init; }

    /// <summary>The same storage marked <see cref="IsConstant"/>: the caller promises never to write it again.</summary>
    public Tensor AsConstant() => new(Shape, _host, Storage) { IsConstant = true };

    /// <summary>The host elements, row-major.</summary>
    public float[] Data => _host ?? throw new InvalidOperationException("tensor lives on a device; copy it to the host first");

    public Span<float> Span => Data;

    public int Rank => Shape.Length;

    public long Length => ElementCount(Shape);

    /// <summary>Size of dimension <paramref name="axis"/>; negative counts from the end.</summary>
    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    /// <summary>A view with another shape over the same storage; one dimension may be -1.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var s = (int[])shape.Clone();
        int infer = Array.IndexOf(s, -1);
        if (infer >= 0)
        {
            long known = 1;
            for (int i = 0; i < s.Length; i++) if (i != infer) known *= s[i];
            s[infer] = (int)(Length / known);
        }
        if (ElementCount(s) != Length)
            throw new ArgumentException($"cannot reshape [{ShapeText}] to [{string.Join(", ", s)}]");
        return new Tensor(s, _host, Storage);
    }

    public Tensor Clone() => new(Shape, (float[])Data.Clone());

    /// <summary>Copy of the <paramref name="count"/> items starting at <paramref name="start"/> along axis 0.</summary>
    public Tensor SliceBatch(int start, int count = 1)
    {
        int inner = (int)(Length / Shape[0]);
        var shape = (int[])Shape.Clone();
        shape[0] = count;
        var data = new float[(long)inner * count];
        Array.Copy(Data, (long)start * inner, data, 0, data.LongLength);
        return new Tensor(shape, data);
    }

    /// <summary>Concatenation along axis 0 of tensors with equal trailing shapes.</summary>
    public static Tensor ConcatBatch(params Tensor[] parts)
    {
        var shape = (int[])parts[0].Shape.Clone();
        shape[0] = parts.Sum(p => p.Shape[0]);
        var result = new Tensor(shape);
        long offset = 0;
        foreach (var p in parts)
        {
            if (!p.Shape.AsSpan(1).SequenceEqual(shape.AsSpan(1)))
                throw new ArgumentException($"cannot concatenate [{p.ShapeText}] with [{string.Join(", ", shape)}]");
            Array.Copy(p.Data, 0, result.Data, offset, p.Length);
            offset += p.Length;
        }
        return result;
    }

    public string ShapeText => string.Join(", ", Shape);

    public override string ToString() => $"Tensor[{ShapeText}]";

    public static long ElementCount(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException("negative dimension");
            n *= d;
        }
        return n;
    }
}
