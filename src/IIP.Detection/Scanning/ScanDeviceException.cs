namespace IIP.Detection.Scanning;

/// <summary>The device failed (<see cref="Engine.Backends.DeviceFailure"/>) while a scan scored one image (see <see cref="Scanner"/>); the records written before stay.</summary>
public sealed class ScanDeviceException(string image, string method, Exception inner)
    : Exception($"the GPU failed while {method} scored {image}: {inner.Message}", inner)
{
    public string Image => image;
}
