using System.Text;

namespace IIP.Detection.Evaluation;

/// <summary>Splits RFC 4180 CSV text into rows of fields (quoted fields may hold commas, doubled quotes, newlines).</summary>
internal static class CsvRows
{
    /// <summary>Rows with the 1-based line number each starts on; blank lines are skipped.</summary>
    public static List<(int Line, List<string> Fields)> Parse(string text, string filePath)
    {
        var rows = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, rowStart = 1;
        bool inQuotes = false, fieldWasQuoted = false;
        int i = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (inQuotes)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                    inQuotes = false;
                else
                {
                    if (c == '\n')
                        line++;
                    field.Append(c);
                }
                continue;
            }
            switch (c)
            {
                case '"' when field.Length == 0 && !fieldWasQuoted:
                    inQuotes = fieldWasQuoted = true;
                    break;
                case '"' when fieldWasQuoted:
                    throw new FormatException($"{filePath} line {line}: text after a closing quote");
                case '"':
                    throw new FormatException($"{filePath} line {line}: a quote inside an unquoted field (RFC 4180 needs the field quoted and the quote doubled)");
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    fieldWasQuoted = false;
                    break;
                case '\r':
                    break;
                case '\n':
                    EndRow();
                    line++;
                    rowStart = line;
                    break;
                default:
                    if (fieldWasQuoted)
                        throw new FormatException($"{filePath} line {line}: text after a closing quote");
                    field.Append(c);
                    break;
            }
        }
        if (inQuotes)
            throw new FormatException($"{filePath} line {rowStart}: a quoted field is never closed");
        EndRow();
        return rows;

        void EndRow()
        {
            fields.Add(field.ToString());
            field.Clear();
            fieldWasQuoted = false;
            if (!(fields.Count == 1 && fields[0].Trim().Length == 0))
                rows.Add((rowStart, fields));
            fields = [];
        }
    }
}
