namespace IIP.Native;

/// <summary>A CUdeviceptr: a 64-bit address in device memory.</summary>
public readonly record struct DevicePointer(ulong Address)
{
    public static DevicePointer Null => default;

    public static DevicePointer operator +(DevicePointer pointer, long bytes) => new(pointer.Address + (ulong)bytes);

    public override string ToString() => $"0x{Address:x}";
}

/// <summary>Grid or block dimensions of a launch.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(int x) => new(checked((uint)x));

    public ulong Count => (ulong)X * Y * Z;

    public override string ToString() => $"({X}, {Y}, {Z})";
}
