using System.Formats.Tar;
using System.Text;

namespace IIP.TestSupport;

/// <summary>A WebDataset shard the tests write (System.Formats.Tar, img2dataset's layout); shared with the CLI tests.</summary>
public static class WebDatasetFixture
{
    /// <summary>
    /// A shard of four samples: 000 a testbed PNG with a .txt caption, 001 undecodable bytes (.jpg), 002 a PNG with a .json
    /// caption, 003 a caption without an image. Returns the shard path and the PNG files used.
    /// </summary>
    public static (string Tar, string[] Pngs) WriteShard(string dir, string name = "shard-00000.tar")
    {
        string[] pngs = [Path.Combine(TestPaths.Testbed, "memorized", "000000.png"), Path.Combine(TestPaths.Testbed, "heldout", "000001.png")];
        string tar = Path.Combine(dir, name);
        using var stream = File.Create(tar);
        using var writer = new TarWriter(stream, TarEntryFormat.Pax);
        void Add(string member, byte[] bytes) => writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, member) { DataStream = new MemoryStream(bytes) });
        Add("000.png", File.ReadAllBytes(pngs[0]));
        Add("000.txt", Encoding.UTF8.GetBytes("a large blue ring\n"));
        Add("001.jpg", [0xFF, 0xD8, 0xFF, 0x00, 0x01]);
        Add("002.json", Encoding.UTF8.GetBytes("{\"caption\": \"a small white square\", \"url\": \"http://x\"}"));
        Add("002.png", File.ReadAllBytes(pngs[1]));
        Add("003.txt", Encoding.UTF8.GetBytes("no image here"));
        return (tar, pngs);
    }

}
