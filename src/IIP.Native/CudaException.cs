using System.Runtime.CompilerServices;

namespace IIP.Native;

/// <summary>
/// A CUDA driver call that returned an error: the result code, its name and description from
/// cuGetErrorName / cuGetErrorString, and the call expression that failed.
/// </summary>
public sealed class CudaException : Exception
{
    public CudaResult Result { get; }

    /// <summary>The source text of the failing call (from <see cref="CallerArgumentExpressionAttribute"/>).</summary>
    public string Call { get; }

    public CudaException(CudaResult result, string call, string? detail = null)
        : base(Describe(result, call, detail))
    {
        Result = result;
        Call = call;
    }

    /// <summary>
    /// Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless <paramref name="result"/> is success.
    /// Use as <c>ThrowIfFailed(Interop.CudaDriver.cuCtxSynchronize())</c>: the call's text becomes part of the message.
    /// </summary>
    public static void ThrowIfFailed(CudaResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CudaResult.Success)
            throw new CudaException(result, call);
    }

    private static string Describe(CudaResult result, string call, string? detail)
    {
        var (name, text) = Interop.CudaDriver.ErrorNameAndText(result);
        var message = $"{call} failed: {name} ({(int)result}): {text}";
        return string.IsNullOrEmpty(detail) ? message : message + Environment.NewLine + detail;
    }
}
