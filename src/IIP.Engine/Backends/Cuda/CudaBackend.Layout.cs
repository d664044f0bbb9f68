using IIP.Native;
using Tensor = IIP.Engine.Tensors.Tensor;

namespace IIP.Engine.Backends.Cuda;

/// <summary>Concatenation, upsampling and NCHW/token transposes (kernels/layout.cu) and their input gradients.</summary>
public sealed partial class CudaBackend
{
    public void ConcatChannels(Tensor a, Tensor b, Tensor y)
    {
        // a [N, Ca, H, W], b [N, Cb, H, W] -> y [N, Ca + Cb, H, W]
        int n = a.Shape[0];
        Require(nameof(ConcatChannels), a.Rank == 4 && b.Rank == 4 && y.Rank == 4 && b.Shape[0] == n && y.Shape[0] == n
            && a.Length + b.Length == y.Length && a.Shape[2] == b.Shape[2] && a.Shape[3] == b.Shape[3], a, b, y);
        long sa = a.Length / n, sb = b.Length / n;
        LaunchElementwise(_kernels.ConcatChannels, y.Length, Ptr(a), Ptr(b), Ptr(y), n, sa, sb);
    }

    public void ConcatChannelsBackward(Tensor dy, Tensor? da, Tensor? db)
    {
        // dy [N, Ca + Cb, H, W] -> da [N, Ca, H, W], db [N, Cb, H, W]
        if (da is null && db is null) return;
        int n = dy.Shape[0], c = dy.Shape[1], h = dy.Shape[2], w = dy.Shape[3];
        int ca = da?.Shape[1] ?? c - db!.Shape[1], cb = c - ca;
        bool ok = dy.Rank == 4 && ca >= 0 && cb >= 0
            && (da is null || da.Rank == 4 && da.Shape[0] == n && da.Shape[2] == h && da.Shape[3] == w)
            && (db is null || db.Rank == 4 && db.Shape[0] == n && db.Shape[1] == cb && db.Shape[2] == h && db.Shape[3] == w);
        Require(nameof(ConcatChannelsBackward), ok, [dy, .. new[] { da, db }.OfType<Tensor>()]);
        long plane = (long)h * w;
        LaunchElementwise(_kernels.ConcatChannelsBackward, dy.Length, Ptr(dy), PtrOrNull(da), PtrOrNull(db), n, ca * plane, cb * plane);
    }

    public void UpsampleNearest2x(Tensor x, Tensor y)
    {
        // x [N, C, H, W] -> y [N, C, 2H or 2H - 1, 2W or 2W - 1]
        Require(nameof(UpsampleNearest2x), x.Rank == 4 && y.Rank == 4 && y.Shape[0] == x.Shape[0] && y.Shape[1] == x.Shape[1]
            && (y.Shape[2] == 2 * x.Shape[2] || y.Shape[2] == 2 * x.Shape[2] - 1) && (y.Shape[3] == 2 * x.Shape[3] || y.Shape[3] == 2 * x.Shape[3] - 1), x, y);
        long planes = (long)x.Shape[0] * x.Shape[1];
        LaunchElementwise(_kernels.UpsampleNearest2x, y.Length, Ptr(x), Ptr(y), planes, x.Shape[2], x.Shape[3], y.Shape[2], y.Shape[3]);
    }

    public void UpsampleNearest2xBackward(Tensor dy, Tensor dx)
    {
        // dy [N, C, 2H or 2H - 1, 2W or 2W - 1] -> dx [N, C, H, W]
        Require(nameof(UpsampleNearest2xBackward), dy.Rank == 4 && dx.Rank == 4 && dy.Shape[0] == dx.Shape[0] && dy.Shape[1] == dx.Shape[1]
            && (dy.Shape[2] == 2 * dx.Shape[2] || dy.Shape[2] == 2 * dx.Shape[2] - 1) && (dy.Shape[3] == 2 * dx.Shape[3] || dy.Shape[3] == 2 * dx.Shape[3] - 1), dy, dx);
        long planes = (long)dx.Shape[0] * dx.Shape[1];
        LaunchElementwise(_kernels.UpsampleNearest2xBackward, dx.Length, Ptr(dy), Ptr(dx), planes, dx.Shape[2], dx.Shape[3], dy.Shape[2], dy.Shape[3]);
    }

    public void ChannelsToTokens(Tensor x, Tensor y)
    {
        // x [N, C, H, W] -> y [N, H * W, C]
        Require(nameof(ChannelsToTokens), x.Rank == 4 && y.Rank == 3 && y.Shape[0] == x.Shape[0]
            && y.Shape[1] == x.Shape[2] * x.Shape[3] && y.Shape[2] == x.Shape[1], x, y);
        Transpose(x, y, x.Shape[0], x.Shape[1], x.Shape[2] * x.Shape[3]);
    }

    public void TokensToChannels(Tensor x, Tensor y)
    {
        // x [N, H * W, C] -> y [N, C, H, W]
        Require(nameof(TokensToChannels), x.Rank == 3 && y.Rank == 4 && y.Shape[0] == x.Shape[0] && y.Shape[1] == x.Shape[2]
            && (long)y.Shape[2] * y.Shape[3] == x.Shape[1], x, y);
        Transpose(x, y, x.Shape[0], x.Shape[1], x.Shape[2]);
    }

    // src [batch, rows, cols] -> dst [batch, cols, rows] in 32 x 32 tiles
    private void Transpose(Tensor src, Tensor dst, int batch, int rows, int cols)
    {
        if (src.Length == 0) return;
        var grid = new Dim3((uint)Blocks(cols, 32), (uint)Blocks(rows, 32), (uint)batch);
        _kernels.Transpose.Launch(grid, new Dim3(32, 8), 0, Stream, Ptr(src), Ptr(dst), rows, cols);
    }
}
