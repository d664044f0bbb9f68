using System.Text;

namespace IIP.TestSupport;

/// <summary>
/// Hand-written ONNX files for the embedder tests (no downloaded model): the protobuf wire format (varint and
/// length-delimited fields) of onnx.proto's ModelProto with ir_version 8 and opset 13.
/// Field numbers: ModelProto{ir_version 1, graph 7, opset_import 8}; OperatorSetIdProto{domain 1, version 2};
/// GraphProto{node 1, name 2, input 11, output 12}; NodeProto{input 1, output 2, op_type 4, attribute 5};
/// AttributeProto{name 1, i 3, type 20}; ValueInfoProto{name 1, type 2}; TypeProto{tensor_type 1};
/// TypeProto.Tensor{elem_type 1, shape 2}; TensorShapeProto{dim 1}; Dimension{dim_value 1, dim_param 2}.
/// </summary>
public static class TinyOnnxModel
{
    public const int FloatType = 1, Int64Type = 7;

    /// <summary>A graph input or output: name, element type and dims (a negative dim is dynamic, written as a dim_param).</summary>
    public sealed record Value(string Name, int ElementType, params long[] Dims);

    /// <summary>One node: op type, inputs, outputs and integer attributes.</summary>
    public sealed record Node(string OpType, string[] Inputs, string[] Outputs, params (string Name, long Value)[] IntAttributes);

    /// <summary>
    /// The mean embedder: image [1, 3, h, w] -> GlobalAveragePool [1, 3, 1, 1] -> Flatten (axis 1) -> embedding [1, 3],
    /// i.e. the per-channel mean of the preprocessed image. h or w &lt; 0: dynamic.
    /// </summary>
    public static byte[] MeanEmbedder(long h, long w) => Model(
        [new Node("GlobalAveragePool", ["image"], ["pooled"]), new Node("Flatten", ["pooled"], ["embedding"])],
        [new Value("image", FloatType, 1, 3, h, w)],
        [new Value("embedding", FloatType, 1, 3)]);

    public static byte[] Model(IEnumerable<Node> nodes, IEnumerable<Value> inputs, IEnumerable<Value> outputs)
    {
        var graph = new Proto();
        foreach (var n in nodes) graph.Message(1, NodeProto(n));
        graph.String(2, "tiny");
        foreach (var v in inputs) graph.Message(11, ValueInfo(v));
        foreach (var v in outputs) graph.Message(12, ValueInfo(v));
        var model = new Proto();
        model.Varint(1, 8);
        model.Message(7, graph);
        model.Message(8, new Proto().String(1, "").Varint(2, 13));
        return model.ToArray();
    }

    private static Proto NodeProto(Node n)
    {
        var node = new Proto();
        foreach (var i in n.Inputs) node.String(1, i);
        foreach (var o in n.Outputs) node.String(2, o);
        node.String(4, n.OpType);
        foreach (var (name, value) in n.IntAttributes)
            node.Message(5, new Proto().String(1, name).Varint(3, value).Varint(20, 2));   // AttributeType INT = 2
        return node;
    }

    private static Proto ValueInfo(Value v)
    {
        var shape = new Proto();
        for (int d = 0; d < v.Dims.Length; d++)
            shape.Message(1, v.Dims[d] >= 0 ? new Proto().Varint(1, v.Dims[d]) : new Proto().String(2, $"d{d}"));
        var tensor = new Proto().Varint(1, v.ElementType).Message(2, shape);
        return new Proto().String(1, v.Name).Message(2, new Proto().Message(1, tensor));
    }

    /// <summary>A protobuf message under construction: tag = field &lt;&lt; 3 | wire type (0 varint, 2 length-delimited).</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public Proto Varint(int field, long value)
        {
            WriteVarint((ulong)field << 3);
            WriteVarint((ulong)value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private Proto Bytes(int field, byte[] value)
        {
            WriteVarint((ulong)field << 3 | 2);
            WriteVarint((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80) { _bytes.WriteByte((byte)(value | 0x80)); value >>= 7; }
            _bytes.WriteByte((byte)value);
        }
    }
}
