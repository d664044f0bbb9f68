using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace IIP.Engine.Weights;

/// <summary>Sizes, safetensors names and bulk conversions of <see cref="WeightDType"/>.</summary>
public static class WeightDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(WeightDType dtype) => dtype switch
    {
        WeightDType.F32 => 4,
        WeightDType.F16 => 2,
        WeightDType.BF16 => 2,
        WeightDType.I64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The safetensors header spelling ("F32", "F16", "BF16", "I64").</summary>
    public static string SafetensorsName(WeightDType dtype) => dtype switch
    {
        WeightDType.F32 => "F32",
        WeightDType.F16 => "F16",
        WeightDType.BF16 => "BF16",
        WeightDType.I64 => "I64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Parses a safetensors dtype name; false for types the engine does not read.</summary>
    public static bool TryParseSafetensorsName(string name, out WeightDType dtype)
    {
        switch (name)
        {
            case "F32": dtype = WeightDType.F32; return true;
            case "F16": dtype = WeightDType.F16; return true;
            case "BF16": dtype = WeightDType.BF16; return true;
            case "I64": dtype = WeightDType.I64; return true;
            default: dtype = default; return false;
        }
    }

    public static bool IsFloat(WeightDType dtype) => dtype is WeightDType.F32 or WeightDType.F16 or WeightDType.BF16;

    /// <summary>
    /// Converts little-endian stored elements to fp32. F16 goes through the vectorized
    /// <see cref="TensorPrimitives.ConvertToSingle(ReadOnlySpan{Half}, Span{float})"/>; BF16 is the top
    /// 16 bits of an fp32 (bits &lt;&lt; 16, exact). I64 is not a float type and is rejected by the caller.
    /// </summary>
    public static void ToSingle(WeightDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        EnsureLittleEndianHost();
        switch (dtype)
        {
            case WeightDType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case WeightDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case WeightDType.BF16:
                var bits = MemoryMarshal.Cast<byte, ushort>(source);
                var outBits = MemoryMarshal.Cast<float, uint>(destination);
                for (int i = 0; i < bits.Length; i++)
                    outBits[i] = (uint)bits[i] << 16;
                break;
            default:
                throw new ArgumentException($"{dtype} is not a float type", nameof(dtype));
        }
    }

    /// <summary>
    /// Converts fp32 to the stored form. F16 rounds to nearest even (TensorPrimitives.ConvertToHalf);
    /// BF16 rounds to nearest even on the dropped 16 bits (NaN kept quiet); I64 truncates toward zero.
    /// </summary>
    public static void FromSingle(WeightDType dtype, ReadOnlySpan<float> source, Span<byte> destination)
    {
        EnsureLittleEndianHost();
        switch (dtype)
        {
            case WeightDType.F32:
                MemoryMarshal.AsBytes(source).CopyTo(destination);
                break;
            case WeightDType.F16:
                TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(destination));
                break;
            case WeightDType.BF16:
                var outBits = MemoryMarshal.Cast<byte, ushort>(destination);
                var inBits = MemoryMarshal.Cast<float, uint>(source);
                for (int i = 0; i < inBits.Length; i++)
                {
                    uint b = inBits[i];
                    outBits[i] = float.IsNaN(source[i])
                        ? (ushort)((b >> 16) | 0x40)
                        : (ushort)((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
                }
                break;
            case WeightDType.I64:
                for (int i = 0; i < source.Length; i++)
                    BinaryPrimitives.WriteInt64LittleEndian(destination.Slice(i * 8, 8), (long)source[i]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);
        }
    }

    /// <summary>
    /// Converts stored float elements to fp16: F16 is copied bit for bit; F32 and BF16 round to nearest even
    /// (TensorPrimitives.ConvertToHalf), in chunks so no full fp32 copy is made. A finite value that
    /// overflows fp16 (|x| &gt; 65504) throws a <see cref="WeightException"/> naming <paramref name="origin"/> and
    /// <paramref name="tensor"/>.
    /// </summary>
    public static void ToHalf(string origin, string tensor, WeightDType dtype, ReadOnlySpan<byte> source, Span<Half> destination)
    {
        EnsureLittleEndianHost();
        if (dtype == WeightDType.F16)
        {
            MemoryMarshal.Cast<byte, Half>(source).CopyTo(destination);
            return;
        }
        if (!IsFloat(dtype))
            throw new WeightException($"{origin}: tensor '{tensor}' is {dtype}, not a float tensor");
        const int Chunk = 16384;
        Span<float> buffer = new float[Math.Min(Chunk, destination.Length)];
        int size = Size(dtype);
        for (int start = 0; start < destination.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, destination.Length - start);
            var chunk = buffer[..n];
            ToSingle(dtype, source.Slice(start * size, n * size), chunk);
            var output = destination.Slice(start, n);
            TensorPrimitives.ConvertToHalf(chunk, output);
            for (int i = 0; i < n; i++)
                if (Half.IsInfinity(output[i]) && float.IsFinite(chunk[i]))
                    throw new WeightException($"{origin}: tensor '{tensor}' element {start + i} = {chunk[i]} overflows fp16 (max 65504)");
        }
    }

    private static void EnsureLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("weight files are little-endian; this host is big-endian");
    }
}
