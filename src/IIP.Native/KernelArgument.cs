using System.Runtime.InteropServices;

namespace IIP.Native;

/// <summary>
/// One kernel parameter as an 8-byte slot on the caller's stack. cuLaunchKernel takes an array of pointers,
/// one per parameter, and reads as many bytes from each as the kernel's parameter type has; a 4-byte value
/// (int, uint, float) sits in the slot's low bytes (little-endian hosts). So a launch written
/// <c>kernel.Launch(grid, block, 0, stream, x.Pointer, y.Pointer, n, alpha)</c> passes its arguments without
/// boxing or pinning: the <c>params ReadOnlySpan</c> lives on the stack. Each C# value's size must equal the
/// kernel parameter's (int for int, long for long long, DevicePointer for a pointer).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
public readonly struct KernelArgument
{
    private readonly ulong _bits;

    private KernelArgument(ulong bits) => _bits = bits;

    public static implicit operator KernelArgument(DevicePointer value) => new(value.Address);

    public static implicit operator KernelArgument(int value) => new((uint)value);

    public static implicit operator KernelArgument(uint value) => new(value);

    public static implicit operator KernelArgument(long value) => new((ulong)value);

    public static implicit operator KernelArgument(ulong value) => new(value);

    public static implicit operator KernelArgument(float value) => new(BitConverter.SingleToUInt32Bits(value));
}
