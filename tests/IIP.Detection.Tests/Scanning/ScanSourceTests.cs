using IIP.Detection.Scanning;

namespace IIP.Detection.Tests.Scanning;

public sealed class ScanSourceTests
{
    private static string Write(string name, string text)
    {
        string path = Path.Combine(TestPaths.NewTempDir("scan-source"), name);
        File.WriteAllText(path, text);
        return path;
    }

    private static void Touch(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [1]);
    }

    [Theory]
    [InlineData("5", "number")]
    [InlineData("\"a.png\"", "string")]
    [InlineData("[{\"image\": \"a.png\"}]", "array")]
    [InlineData("null", "null")]
    public void A_jsonl_line_that_is_json_but_not_an_object_names_the_file_and_line(string line, string kind)
    {
        string path = Write("m.jsonl", "{\"image\": \"a.png\"}\n\n" + line + "\n");
        var e = Assert.Throws<InvalidDataException>(() => ScanSource.Read(path));
        Assert.Contains($"{path}:3: not a JSON object", e.Message);
        Assert.Contains(kind, e.Message);
    }

    [Theory]
    [InlineData("{\"image\": \"\"}")]
    [InlineData("{\"image\": \"  \", \"caption\": \"x\"}")]
    public void An_empty_image_field_names_the_file_and_line(string line)
    {
        string path = Write("m.jsonl", "{\"image\": \"a.png\"}\n" + line + "\n");
        var e = Assert.Throws<InvalidDataException>(() => ScanSource.Read(path));
        Assert.Contains($"{path}:2:", e.Message);
        Assert.Contains("\"image\" field is empty", e.Message);
    }

    [Fact]
    public void Bad_jsonl_lines_keep_their_named_errors()
    {
        var missing = Assert.Throws<InvalidDataException>(() => ScanSource.Read(Write("m.jsonl", "{\"caption\": \"x\"}\n")));
        Assert.Contains(":1: no \"image\" string field", missing.Message);
        var broken = Assert.Throws<InvalidDataException>(() => ScanSource.Read(Write("m.jsonl", "{\"image\": \"a.png\"}\n{\"image\": \n")));
        Assert.Contains(":2: not valid JSON", broken.Message);
        var surrogate = Assert.Throws<InvalidDataException>(() => ScanSource.Read(Write("m.jsonl", "{\"image\": \"a\\ud800.png\"}\n")));
        Assert.Contains(":1: a string holds an invalid \\u escape", surrogate.Message);
    }

    [Fact]
    public void A_json_file_holding_one_array_of_objects_is_a_manifest()
    {
        string path = Write("m.json", "\uFEFF[\n  {\"image\": \"a.png\", \"caption\": \"a cat\"},\n  {\"image\": \"sub/b.jpg\"}\n]\n");
        var items = ScanSource.Read(path);
        string dir = Path.GetDirectoryName(path)!;
        Assert.Equal(
            [new ScanItem("a.png", Path.Combine(dir, "a.png"), "a cat"), new ScanItem("sub/b.jpg", Path.Combine(dir, "sub", "b.jpg"), null)],
            items);
    }

    [Theory]
    [InlineData("[\n  {\"image\": \"a.png\"},\n  \"b.png\"\n]", ":3: not a JSON object")]         // the element's own line
    [InlineData("[\n  {\"image\": \"a.png\"},\n  {\"image\": \"\"}\n]", ":3: the \"image\" field is empty")]
    [InlineData("[\n  {\"image\": \"a.png\"},\n  {\"image\": \"b.png\"\n", ":4: not valid JSON")]        // never closed
    [InlineData("[{\"image\": \"a.png\"}]\n{\"image\": \"b.png\"}", ":2: ")]                          // text after the array
    public void A_bad_json_array_manifest_names_the_file_and_line(string text, string expected)
    {
        string path = Write("m.json", text);
        var e = Assert.Throws<InvalidDataException>(() => ScanSource.Read(path));
        Assert.Contains(path + expected, e.Message);
    }

    [Fact]
    public void A_nul_character_in_a_listed_path_names_the_file_and_line()
    {
        string path = Write("list.txt", "a.png\nb\0c.png\n");
        var e = Assert.Throws<InvalidDataException>(() => ScanSource.Read(path));
        Assert.Contains($"{path}:2: the image path holds a NUL character", e.Message);
    }

    [Fact]
    public void Listed_images_in_formats_the_decoder_cannot_read_are_marked()
    {
        string path = Write("list.txt", "a.png\nb.WEBP\nc.tiff\n");
        var items = ScanSource.Read(path);
        Assert.Equal(["a.png", "b.WEBP", "c.tiff"], items.Select(i => i.Image));
        Assert.Null(items[0].Unsupported);
        Assert.Equal("unsupported image format WebP: convert to PNG or JPEG", items[1].Unsupported);
        Assert.Equal("unsupported image format TIFF: convert to PNG or JPEG", items[2].Unsupported);
    }

    [Fact]
    public void A_folder_lists_its_images_below_it_in_ordinal_order()
    {
        string root = TestPaths.NewTempDir("walk-plain");
        foreach (var name in new[] { "b.png", "a/z.JPG", "a/notes.txt", "B.bmp", "a/deeper/x.gif" })
            Touch(Path.Combine(root, name));
        var listing = ScanSource.Walk(root);
        Assert.Equal(new[] { "B.bmp", "a/deeper/x.gif", "a/z.JPG", "b.png" }.Select(n => Path.Combine(root, n)), listing.Items.Select(i => i.Image));
        Assert.All(listing.Items, i => Assert.Equal(i.Image, i.FullPath));
        Assert.Empty(listing.Warnings);
    }

    [Fact]
    public void A_folder_walk_survives_link_loops_follows_outside_links_once_and_lists_unsupported_images()
    {
        if (OperatingSystem.IsWindows()) return;                     // symbolic links need privileges there
        string top = TestPaths.NewTempDir("walk-links");
        string tree = Path.Combine(top, "tree");
        Touch(Path.Combine(tree, "img1.png"));
        Touch(Path.Combine(tree, "photo.webp"));
        Touch(Path.Combine(tree, "sub", "img2.png"));
        Touch(Path.Combine(top, "outside", "ext.png"));
        Directory.CreateSymbolicLink(Path.Combine(tree, "sub", "loop"), "..");                       // a -> .. : a loop
        File.CreateSymbolicLink(Path.Combine(tree, "sub", "dup.png"), "../img1.png");              // a file also in the tree
        Directory.CreateSymbolicLink(Path.Combine(tree, "ext"), Path.Combine(top, "outside"));     // outside: followed once
        Directory.CreateSymbolicLink(Path.Combine(tree, "ext2"), "../outside");                    // a second path to it
        Directory.CreateSymbolicLink(Path.Combine(tree, "a-link"), "sub");                         // sorts before sub: sub keeps its own paths

        var listing = ScanSource.Walk(tree);

        Assert.Equal(new[] { "ext/ext.png", "img1.png", "photo.webp", "sub/img2.png" }.Select(n => Path.Combine(tree, n)), listing.Items.Select(i => i.Image));
        Assert.Equal("unsupported image format WebP: convert to PNG or JPEG", listing.Items.Single(i => i.Image.EndsWith(".webp")).Unsupported);
        Assert.All(listing.Items.Where(i => !i.Image.EndsWith(".webp")), i => Assert.Null(i.Unsupported));
        Assert.Equal(3, listing.Warnings.Count);
        Assert.Contains(listing.Warnings, w => w.StartsWith(Path.Combine(tree, "sub", "loop") + ": symbolic link loop") && w.Contains(tree));
        Assert.Contains(listing.Warnings, w => w.StartsWith(Path.Combine(tree, "ext2") + ": leads to") && w.Contains("already walked as " + Path.Combine(tree, "ext")));
        Assert.Contains(listing.Warnings, w => w.StartsWith(Path.Combine(tree, "a-link") + ": leads to") && w.Contains("already walked as " + Path.Combine(tree, "sub")));
        Assert.Equal(listing.Items, ScanSource.Read(tree));          // Read is the same walk without the warnings
    }

    [Fact]
    public void A_link_to_its_own_folder_and_a_self_link_end_the_walk()
    {
        if (OperatingSystem.IsWindows()) return;
        string tree = TestPaths.NewTempDir("walk-self");
        Touch(Path.Combine(tree, "a.png"));
        Directory.CreateSymbolicLink(Path.Combine(tree, "here"), ".");
        File.CreateSymbolicLink(Path.Combine(tree, "self.png"), "self.png");                       // resolves to itself forever
        var listing = ScanSource.Walk(tree);
        Assert.Equal([Path.Combine(tree, "a.png"), Path.Combine(tree, "self.png")], listing.Items.Select(i => i.Image));
        Assert.Contains(listing.Warnings, w => w.StartsWith(Path.Combine(tree, "here") + ": symbolic link loop"));
        Assert.Contains(listing.Warnings, w => w.StartsWith(Path.Combine(tree, "self.png") + ": too many levels of symbolic links"));
    }

    [Fact]
    public void Real_path_resolves_link_chains_and_dot_dot_after_a_link()
    {
        if (OperatingSystem.IsWindows()) return;
        string top = TestPaths.NewTempDir("realpath");
        Directory.CreateDirectory(Path.Combine(top, "x", "y"));
        Directory.CreateSymbolicLink(Path.Combine(top, "l1"), Path.Combine("x", "y"));
        Directory.CreateSymbolicLink(Path.Combine(top, "l2"), "l1");
        string topReal = FolderWalk.RealPath(top);
        Assert.Equal(Path.Combine(topReal, "x", "y"), FolderWalk.RealPath(Path.Combine(top, "l2")));
        Assert.Equal(Path.Combine(topReal, "x"), FolderWalk.RealPath(Path.Combine(top, "l2", "..")));   // .. of the target, not of l2
        Assert.Equal(Path.Combine(topReal, "x", "y", "missing.png"), FolderWalk.RealPath(Path.Combine(top, "l2", "missing.png")));
    }
}
