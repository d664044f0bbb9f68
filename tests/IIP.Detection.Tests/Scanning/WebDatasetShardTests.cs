using System.Text;
using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Scanning;

/// <summary>WebDataset shards as scan input, on shards the tests write (System.Formats.Tar, as img2dataset's layout).</summary>
public class WebDatasetShardTests
{
    [Fact]
    public void ASampleIsItsKeysMembersWithTheCaptionFromTxtOrJson()
    {
        string dir = TestPaths.NewTempDir("wds-list");
        var (tar, pngs) = WebDatasetFixture.WriteShard(dir);

        var listing = ScanSource.Walk(tar);

        Assert.Equal(["shard-00000.tar#000", "shard-00000.tar#001", "shard-00000.tar#002"], listing.Items.Select(i => i.Image));
        Assert.Equal(["a large blue ring", null, "a small white square"], listing.Items.Select(i => i.Caption));
        Assert.Equal($"{tar}#002.png", listing.Items[2].FullPath);
        Assert.Contains(listing.Warnings, w => w.Contains("1 samples have no image member"));
        // the member's bytes, hash and pixels are the file's
        Assert.Equal(File.ReadAllBytes(pngs[1]), WebDatasetShard.ReadMember(listing.Items[2].FullPath));
        Assert.Equal(ScanHashes.Sha256OfFile(pngs[1]), ScanContent.Sha256(listing.Items[2].FullPath));
        Assert.Equal(ScanContent.LoadImage(pngs[0], 64).Data, ScanContent.LoadImage(listing.Items[0].FullPath, 64).Data);
        var e = Assert.ThrowsAny<Exception>(() => ScanContent.LoadImage(listing.Items[1].FullPath, 64));
        Assert.Contains("001.jpg", e.Message);
    }

    [Fact]
    public void BracePatternsAndFoldersOfShardsListEveryShardInOrder()
    {
        string dir = TestPaths.NewTempDir("wds-many");
        WebDatasetFixture.WriteShard(dir, "shard-00000.tar");
        WebDatasetFixture.WriteShard(dir, "shard-00001.tar");
        var byPattern = ScanSource.Walk(Path.Combine(dir, "shard-{00000..00001}.tar")).Items.Select(i => i.Image).ToList();
        var byFolder = ScanSource.Walk(dir).Items.Select(i => i.Image).ToList();
        Assert.Equal(6, byPattern.Count);
        Assert.Equal("shard-00001.tar#002", byPattern[^1]);
        Assert.Equal(byPattern, byFolder);
        Assert.DoesNotContain(ScanSource.Walk(dir).Warnings, w => w.Contains("image files beside them"));
        File.Copy(Path.Combine(TestPaths.Testbed, "heldout", "000001.png"), Path.Combine(dir, "loose.png"));   // an image beside the shards
        var mixed = ScanSource.Walk(dir);
        Assert.Equal(byPattern, mixed.Items.Select(i => i.Image));
        Assert.Contains(mixed.Warnings, w => w.Contains("holds 2 WebDataset shards (.tar) and 1 image files beside them"));
        Assert.Equal(["a-07.tar", "a-08.tar", "a-09.tar", "a-10.tar"], ScanSource.BracePattern("a-{07..10}.tar"));
        var e = Assert.Throws<FileNotFoundException>(() => ScanSource.Walk(Path.Combine(dir, "shard-{00000..00002}.tar")));
        Assert.Contains("shard-00002.tar", e.Message);
    }

    [Fact]
    public void ADamagedShardKeepsTheSamplesBeforeTheDamageAndSaysSo()
    {
        string dir = TestPaths.NewTempDir("wds-damaged");
        var (tar, _) = WebDatasetFixture.WriteShard(dir);
        byte[] bytes = File.ReadAllBytes(tar);
        // overwrite the header of a member after the first sample (the checksum then fails)
        int header = FindHeader(bytes, "002.json");
        Array.Fill(bytes, (byte)'x', header + 100, 60);
        File.WriteAllBytes(tar, bytes);

        var listing = ScanSource.Walk(tar);
        Assert.Contains(listing.Items, i => i.Image == "shard-00000.tar#000");
        Assert.DoesNotContain(listing.Items, i => i.Image == "shard-00000.tar#002");
        Assert.Contains(listing.Warnings, w => w.Contains("the archive is damaged"));
    }

    [Fact]
    public void AShardCutShortInsideItsLastImageLeavesThatMemberOutNamingIt()
    {
        string dir = TestPaths.NewTempDir("wds-cut");
        var (tar, _) = WebDatasetFixture.WriteShard(dir);
        byte[] bytes = File.ReadAllBytes(tar);
        int cut = FindHeader(bytes, "002.png") + 512 + 100;   // 100 bytes into 002.png's data: 003.txt and the end blocks are gone too
        File.WriteAllBytes(tar, bytes[..cut]);

        var listing = ScanSource.Walk(tar);
        Assert.Contains(listing.Items, i => i.Image == "shard-00000.tar#000");
        Assert.DoesNotContain(listing.Items, i => i.Image == "shard-00000.tar#002");   // its caption is there, its image is not
        Assert.Contains(listing.Warnings, w => w.Contains($"{tar}#002.png: the archive ends inside this member (100 of its"));
    }

    // the offset of the header block whose name field starts with the member name (after the PAX extended header)
    private static int FindHeader(byte[] tar, string member)
    {
        byte[] name = Encoding.ASCII.GetBytes(member);
        for (int at = 0; at + 512 <= tar.Length; at += 512)
            if (tar.AsSpan(at, name.Length).SequenceEqual(name) && tar[at + 156] == (byte)'0') return at;
        throw new InvalidOperationException($"no header for {member}");
    }
}
