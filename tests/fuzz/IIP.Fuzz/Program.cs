using System.Buffers.Binary;
using System.Text;
using IIP.Detection.Scanning;
using IIP.Engine.Tensors;
using IIP.Engine.Weights;
using SharpFuzz;
using StbImageWriteSharp;

namespace IIP.Fuzz;

/// <summary>
/// <c>IIP.Fuzz TARGET</c>: the AFL++ entry point (SharpFuzz's out-of-process fork server; the input arrives on stdin).
/// <c>IIP.Fuzz check TARGET FILE...</c>: runs files through the target outside AFL and says what each gave (triage).
/// <c>IIP.Fuzz seed CORPUS_DIR</c>: writes the seed corpus, one folder per target.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "seed")
        {
            Seeds.Write(args[1]);
            return 0;
        }
        if (args.Length >= 3 && args[0] == "check")
            return Check(args[1], args[2..]);
        if (args.Length == 1 && FuzzTargets.Names.Contains(args[0]))
        {
            string target = args[0];
            Fuzzer.OutOfProcess.Run(stream =>
            {
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                FuzzTargets.Run(target, buffer.ToArray());
            });
            return 0;
        }
        Console.Error.WriteLine($"usage: IIP.Fuzz TARGET | check TARGET FILE... | seed CORPUS_DIR   (targets: {string.Join(", ", FuzzTargets.Names)})");
        return 2;
    }

    private static int Check(string target, string[] files)
    {
        int crashes = 0;
        foreach (var file in files)
        {
            try
            {
                var errors = FuzzTargets.Run(target, File.ReadAllBytes(file));
                Console.WriteLine($"{file}: {(errors.Count == 0 ? "accepted" : "named error: " + string.Join(" | ", errors.Select(Clip)))}");
            }
            catch (Exception e)
            {
                crashes++;
                Console.WriteLine($"{file}: CRASH {e.GetType().FullName}: {e.Message}");
                Console.WriteLine(e.StackTrace);
            }
        }
        return crashes == 0 ? 0 : 1;
    }

    private static string Clip(string text) => text.Length <= 200 ? text : text[..200] + "...";
}

/// <summary>Small valid and near-valid inputs for each target, written with the engine's own writers where it has them.</summary>
internal static class Seeds
{
    public static void Write(string root)
    {
        Safetensors(Folder(root, "safetensors"));
        Packed(Folder(root, "iipw"));
        Images(Folder(root, "image"));
        Manifests(Folder(root, "manifest"));
        Results(Folder(root, "results"));
        Labels(Folder(root, "labels"));
    }

    private static string Folder(string root, string target)
    {
        string folder = Path.Combine(root, target);
        Directory.CreateDirectory(folder);
        return folder;
    }

    private static void Safetensors(string folder)
    {
        SafetensorsWriter.Write(Path.Combine(folder, "valid.safetensors"),
        [
            SafetensorsTensor.From("w", Tensor.From([1f, -2f, 0.5f, 3f], 2, 2), WeightDType.F32),
            SafetensorsTensor.From("b", Tensor.From([0.25f, 1f, -1f], 3), WeightDType.F16),
            SafetensorsTensor.From("empty", Tensor.Zeros(0, 3), WeightDType.BF16),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        RawSafetensors(Path.Combine(folder, "i64.safetensors"),
            "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},\"h\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[16,18]}}", 18);
        RawSafetensors(Path.Combine(folder, "overlap.safetensors"),
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
    }

    private static void RawSafetensors(string path, string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
    }

    private static void Packed(string folder)
    {
        // configs {} take the SD v1.4 defaults; the tensors are tiny, 256-byte aligned as the writer lays them out
        const string minimal = "{\"format\":\"iipw\",\"version\":1,\"configs\":{\"unet\":{},\"vae\":{},\"text_encoder\":{},\"scheduler\":{}},\"tokenizer\":null,"
            + "\"tensors\":[{\"part\":\"unet\",\"name\":\"conv_in.bias\",\"shape\":[4],\"dtype\":\"F16\",\"offset\":0,\"bytes\":8},"
            + "{\"part\":\"vae\",\"name\":\"w\",\"shape\":[2,2],\"dtype\":\"F16\",\"offset\":256,\"bytes\":8}]}";
        PackedFile(Path.Combine(folder, "minimal.iipw"), minimal, 264);
        const string configs = "{\"configs\":{\"unet\":{\"block_out_channels\":[32,64],\"down_block_types\":[\"CrossAttnDownBlock2D\",\"DownBlock2D\"],"
            + "\"up_block_types\":[\"UpBlock2D\",\"CrossAttnUpBlock2D\"],\"norm_num_groups\":32,\"attention_head_dim\":8,\"layers_per_block\":1},"
            + "\"vae\":{\"block_out_channels\":[32],\"norm_num_groups\":32,\"latent_channels\":4},"
            + "\"text_encoder\":{\"hidden_size\":32,\"num_attention_heads\":4,\"hidden_act\":\"quick_gelu\"},"
            + "\"scheduler\":{\"beta_schedule\":\"scaled_linear\",\"num_train_timesteps\":1000}},\"tokenizer\":\"m.iipw.tokenizer\","
            + "\"tensors\":[{\"part\":\"text_encoder\",\"name\":\"e\",\"shape\":[],\"dtype\":\"F16\",\"offset\":0,\"bytes\":2}]}";
        PackedFile(Path.Combine(folder, "configs.iipw"), configs, 2);
    }

    private static void PackedFile(string path, string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        long dataStart = PackedWeightsFormat.Align(PackedWeightsFormat.PreambleBytes + json.Length);
        var bytes = new byte[dataStart + dataBytes];
        PackedWeightsFormat.Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), PackedWeightsFormat.Version);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), (ulong)json.Length);
        json.CopyTo(bytes, PackedWeightsFormat.PreambleBytes);
        for (long i = dataStart; i < bytes.Length; i++) bytes[i] = (byte)(i * 7);
        File.WriteAllBytes(path, bytes);
    }

    private static void Images(string folder)
    {
        const int w = 4, h = 3;
        var rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 37);
        var writer = new ImageWriter();
        void Save(string name, Action<Stream> write)
        {
            using var stream = File.Create(Path.Combine(folder, name));
            write(stream);
        }
        Save("rgb.png", s => writer.WritePng(rgb, w, h, ColorComponents.RedGreenBlue, s));
        Save("gray-alpha.png", s => writer.WritePng(new byte[w * h * 2], w, h, ColorComponents.GreyAlpha, s));
        Save("rgb.jpg", s => writer.WriteJpg(rgb, w, h, ColorComponents.RedGreenBlue, s, 90));
        Save("rgb.bmp", s => writer.WriteBmp(rgb, w, h, ColorComponents.RedGreenBlue, s));
        Save("rgb.tga", s => writer.WriteTga(rgb, w, h, ColorComponents.RedGreenBlue, s));
        Save("rgb.hdr", s => writer.WriteHdr(rgb, w, h, ColorComponents.RedGreenBlue, s));
        // a 1x1 GIF89a (global palette of 2, one LZW-coded pixel) and a binary PPM
        File.WriteAllBytes(Path.Combine(folder, "one.gif"),
            [.. "GIF89a"u8, 1, 0, 1, 0, 0x80, 0, 0, 255, 0, 0, 0, 0, 255, (byte)',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, (byte)';']);
        File.WriteAllBytes(Path.Combine(folder, "two.ppm"), [.. "P6\n2 1\n255\n"u8, 255, 0, 0, 0, 0, 255]);
    }

    private static void Manifests(string folder)
    {
        File.WriteAllText(Path.Combine(folder, "lines.jsonl"),
            "{\"image\": \"memorized/000000.png\", \"caption\": \"a photo\", \"set\": \"memorized\"}\n# a comment\n\n{\"image\": \"b.webp\"}\r\n");
        File.WriteAllText(Path.Combine(folder, "array.json"), "[\n  {\"image\": \"a.png\", \"caption\": \"x\"},\n  {\"image\": \"sub/c.jpg\"}\n]\n");
        File.WriteAllText(Path.Combine(folder, "list.txt"), "a.png\n# comment\n/abs/b.jpg\n../up/c.tif\n");
    }

    private static void Results(string folder)
    {
        string path = Path.Combine(folder, "records.jsonl");
        File.Delete(path);
        using (var writer = ResultsWriter.Open(path))
        {
            writer.Append(new ScanRecord
            {
                Image = "memorized/000000.png", Sha256 = new string('a', 64), Method = "iip", Score = 0.75,
                Components = new Dictionary<string, double> { ["mtcnp"] = 1.5, ["similarity"] = 0.5 }, Tcnp = [2.5, 1.0], Seconds = 0.2, Seed = 1, Options = "o1",
            });
            writer.Append(new ScanRecord { Image = "bad.png", Sha256 = "", Method = "pia", Error = "cannot load image bad.png: the file is empty" });
            writer.Append(new ScanRecord { Image = "nan.png", Sha256 = "", Method = "secmi", Score = double.NaN });
        }
        File.WriteAllText(Path.Combine(folder, "partial-tail.jsonl"), File.ReadAllText(path) + "{\"image\":\"x.png\",\"sha2");
    }

    private static void Labels(string folder)
    {
        File.WriteAllText(Path.Combine(folder, "labels.jsonl"),
            "{\"image\": \"a.png\", \"memorized\": true, \"set\": \"memorized\"}\n{\"image\": \"b.png\", \"label\": 0, \"set\": \"heldout\"}\n");
        File.WriteAllText(Path.Combine(folder, "labels.csv"), "image,memorized,set\r\n\"x/a,b \"\"q\"\".png\",1,mem\r\ny/b.png,false,\r\n");
    }
}
