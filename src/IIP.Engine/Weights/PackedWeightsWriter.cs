using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using IIP.Engine.Tensors;

namespace IIP.Engine.Weights;

/// <summary>
/// The engine's packed weight file (.iipw), one file per model:
/// <code>
/// bytes 0..3   magic "IIPW"
/// bytes 4..7   u32 LE format version (1)
/// bytes 8..15  u64 LE length N of the JSON header
/// bytes 16..   N bytes of UTF-8 JSON: {"configs": {"unet", "vae", "text_encoder", "scheduler": diffusers config objects},
///              "tokenizer": sibling folder name or null,
///              "tensors": [{"part", "name", "shape", "dtype": "F16", "offset", "bytes"}, ...]}
/// then zero padding to the data section, which starts at a multiple of 256; every tensor's offset
/// (relative to the data section) is a multiple of 256, so device copies start aligned.
/// </code>
/// Names are diffusers names within the part. The tokenizer (vocab.json, merges.txt) is not stored inside
/// the file but in a sibling folder "&lt;file name&gt;.tokenizer" that the header names.
/// </summary>
public static class PackedWeightsFormat
{
    public static ReadOnlySpan<byte> Magic => "IIPW"u8;

    public const uint Version = 1;

    public const int Alignment = 256;

    public const int PreambleBytes = 16;

    public static long Align(long offset) => (offset + Alignment - 1) / Alignment * Alignment;

    /// <summary>The sibling tokenizer folder of a packed file: "model.iipw" -> "model.iipw.tokenizer".</summary>
    public static string TokenizerFolderName(string packedPath) => Path.GetFileName(packedPath) + ".tokenizer";
}

/// <summary>Writes a <see cref="StableDiffusionCheckpoint"/> as a packed fp16 .iipw file.</summary>
public static class PackedWeightsWriter
{
    /// <summary>
    /// Writes every validated parameter of <paramref name="checkpoint"/> as fp16 (F16 sources copied bit for bit,
    /// F32/BF16 rounded to nearest even; a value beyond the fp16 range is an error naming the tensor), one tensor
    /// in memory at a time. The tokenizer of <paramref name="tokenizerDir"/> (else the checkpoint's, if any) is
    /// copied to the sibling folder. The file appears only when complete.
    /// </summary>
    public static void Write(StableDiffusionCheckpoint checkpoint, string path, string? tokenizerDir = null)
    {
        string fullPath = Path.GetFullPath(path);
        string? tokenizerSource = tokenizerDir ?? checkpoint.TokenizerDirectory;
        if (tokenizerDir is not null) DiffusersFolder.CheckTokenizerFolder(tokenizerDir);

        var tensors = new List<(ModelPart Part, string Name, int[] Shape, long Offset, long Bytes)>();
        long offset = 0;
        foreach (var part in ModelParts.All)
        {
            var source = checkpoint.Weights(part);
            foreach (var name in source.Names)
            {
                var shape = source.Info(name).Shape;
                long bytes = Tensor.ElementCount(shape) * 2;
                tensors.Add((part, name, shape, offset, bytes));
                offset = PackedWeightsFormat.Align(offset + bytes);
            }
        }

        byte[] header = BuildHeader(checkpoint, tensors, tokenizerSource is null ? null : PackedWeightsFormat.TokenizerFolderName(fullPath));
        long dataStart = PackedWeightsFormat.Align(PackedWeightsFormat.PreambleBytes + header.Length);

        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        string partial = fullPath + ".partial";
        using (var stream = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> preamble = stackalloc byte[PackedWeightsFormat.PreambleBytes];
            PackedWeightsFormat.Magic.CopyTo(preamble);
            BinaryPrimitives.WriteUInt32LittleEndian(preamble[4..], PackedWeightsFormat.Version);
            BinaryPrimitives.WriteUInt64LittleEndian(preamble[8..], (ulong)header.Length);
            stream.Write(preamble);
            stream.Write(header);
            Pad(stream, dataStart);

            Half[] buffer = [];
            foreach (var (part, name, _, tensorOffset, bytes) in tensors)
            {
                int count = checked((int)(bytes / 2));
                if (buffer.Length < count) buffer = new Half[count];
                LoadHalf(checkpoint.Weights(part), name, buffer.AsSpan(0, count));
                Pad(stream, dataStart + tensorOffset);
                stream.Write(MemoryMarshal.AsBytes(buffer.AsSpan(0, count)));
            }
            Pad(stream, dataStart + offset);
        }
        File.Move(partial, fullPath, overwrite: true);

        if (tokenizerSource is not null)
        {
            DiffusersFolder.CopyTokenizer(tokenizerSource, Path.Combine(Path.GetDirectoryName(fullPath)!, PackedWeightsFormat.TokenizerFolderName(fullPath)));
        }
    }

    private static void LoadHalf(IWeightSource source, string name, Span<Half> destination)
    {
        if (source is IHalfWeightSource half)
        {
            half.LoadHalf(name, destination);
            return;
        }
        var values = source.Load(name);
        WeightDTypes.ToHalf(source.Origin, name, WeightDType.F32, MemoryMarshal.AsBytes(values.Span), destination);
    }

    private static void Pad(Stream stream, long position)
    {
        if (stream.Position > position) throw new InvalidOperationException("packed writer overran a tensor slot");
        Span<byte> zeros = stackalloc byte[PackedWeightsFormat.Alignment];
        while (stream.Position < position)
            stream.Write(zeros[..(int)Math.Min(zeros.Length, position - stream.Position)]);
    }

    private static byte[] BuildHeader(StableDiffusionCheckpoint checkpoint, List<(ModelPart Part, string Name, int[] Shape, long Offset, long Bytes)> tensors, string? tokenizerFolder)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("format", "iipw");
            w.WriteNumber("version", PackedWeightsFormat.Version);
            w.WriteString("source_layout", checkpoint.Layout.ToString());
            w.WriteStartObject("configs");
            w.WritePropertyName("unet");
            DiffusersConfigs.WriteUNet(w, checkpoint.Unet);
            w.WritePropertyName("vae");
            DiffusersConfigs.WriteVae(w, checkpoint.Vae);
            w.WritePropertyName("text_encoder");
            DiffusersConfigs.WriteTextEncoder(w, checkpoint.TextEncoder);
            w.WritePropertyName("scheduler");
            DiffusersConfigs.WriteScheduler(w, checkpoint.Scheduler);
            w.WriteEndObject();
            if (tokenizerFolder is null) w.WriteNull("tokenizer");
            else w.WriteString("tokenizer", tokenizerFolder);
            w.WriteStartArray("tensors");
            foreach (var (part, name, shape, offset, bytes) in tensors)
            {
                w.WriteStartObject();
                w.WriteString("part", part.FolderName());
                w.WriteString("name", name);
                w.WriteStartArray("shape");
                foreach (int d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteString("dtype", "F16");
                w.WriteNumber("offset", offset);
                w.WriteNumber("bytes", bytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
