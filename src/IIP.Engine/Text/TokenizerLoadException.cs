namespace IIP.Engine.Text;

/// <summary>A tokenizer folder is missing a file or holds one that cannot be used.</summary>
public sealed class TokenizerLoadException(string message, Exception? inner = null) : Exception(message, inner);
