using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IIP.Detection.Tests.Datasets;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 for the download tests: serves fixture bytes by path, honours Range requests
/// (206 with Content-Range) unless told not to, names each file's version with a strong ETag (its bytes' hash) and honours
/// If-Range (the whole file when the version asked for is not the one served), answers 404 for unknown paths, and can cut a
/// response short after a given number of body bytes (the Content-Length still announcing them all), as a dropped
/// connection does, or answer a range from the wrong byte, as a broken proxy does. Records each request's path, Range
/// and If-Range headers.
/// </summary>
public sealed class LocalHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, byte[]> _files = new();

    public LocalHttpServer()
    {
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public string Url(string path) => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/{path}";

    public void Serve(string path, byte[] bytes) => _files[path] = bytes;

    /// <summary>When set, the next response sends only this many body bytes and closes the connection.</summary>
    public long? CutAfter { get; set; }

    /// <summary>When false, Range headers are ignored (200 with the whole file), as some servers do.</summary>
    public bool HonourRange { get; set; } = true;

    /// <summary>When false, no ETag is sent (the server names no version of its files).</summary>
    public bool SendETag { get; set; } = true;

    /// <summary>When set, the next 206 answer starts at byte 0 whatever the Range asked for.</summary>
    public bool WrongRangeStart { get; set; }

    public ConcurrentQueue<(string Path, string? Range, string? IfRange)> Requests { get; } = new();

    public static string ETagOf(byte[] bytes) => $"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16]}\"";

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = Task.Run(() => Handle(client));
        }
    }

    private async Task Handle(TcpClient client)
    {
        using (client)
        {
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.ASCII);
            string? requestLine = await reader.ReadLineAsync();
            if (requestLine is null) return;
            string? range = null, ifRange = null;
            string? line;
            while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync()))
            {
                if (line.StartsWith("Range:", StringComparison.OrdinalIgnoreCase)) range = line["Range:".Length..].Trim();
                if (line.StartsWith("If-Range:", StringComparison.OrdinalIgnoreCase)) ifRange = line["If-Range:".Length..].Trim();
            }
            string path = requestLine.Split(' ')[1].TrimStart('/');
            Requests.Enqueue((path, range, ifRange));

            if (!_files.TryGetValue(path, out var bytes))
            {
                await Write(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", ReadOnlyMemory<byte>.Empty);
                return;
            }
            long start = 0;
            string tag = ETagOf(bytes);
            string status = "200 OK", extra = SendETag ? $"ETag: {tag}\r\n" : "";
            bool sameVersion = ifRange is null || ifRange == tag;
            if (range is not null && HonourRange && sameVersion && range.StartsWith("bytes=", StringComparison.Ordinal))
            {
                start = long.Parse(range["bytes=".Length..].TrimEnd('-'));
                if (start >= bytes.Length)
                {
                    await Write(stream, $"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{bytes.Length}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", ReadOnlyMemory<byte>.Empty);
                    return;
                }
                status = "206 Partial Content";
                if (WrongRangeStart)
                {
                    WrongRangeStart = false;
                    start = 0;
                }
                extra += $"Content-Range: bytes {start}-{bytes.Length - 1}/{bytes.Length}\r\n";
            }
            var body = bytes.AsMemory((int)start);
            string head = $"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n{extra}Connection: close\r\n\r\n";
            if (CutAfter is { } cut)
            {
                CutAfter = null;
                body = body[..(int)Math.Min(cut, body.Length)];
            }
            await Write(stream, head, body);
        }
    }

    private static async Task Write(NetworkStream stream, string head, ReadOnlyMemory<byte> body)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body);
        await stream.FlushAsync();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
