using System.Globalization;
using System.Text;

namespace Satsub.Exports;

/// <summary>RFC 4180 fields, with spreadsheet formula injection defused.</summary>
public static class Csv
{
    /// <summary>
    /// A field as it goes in the file. A text starting with <c>= + - @</c> (or a tab or carriage return, which
    /// some spreadsheets strip before the formula check) gets a leading apostrophe so it is never run as a
    /// formula; a field with a comma, quote or line break is quoted, quotes doubled.
    /// </summary>
    public static void AppendText(StringBuilder line, string? value)
    {
        if (string.IsNullOrEmpty(value)) return;
        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r') value = "'" + value;
        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            line.Append(value);
            return;
        }
        line.Append('"').Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }

    /// <summary>Numbers are written as numbers (a negative amount keeps its sign: it is data, not a formula).</summary>
    public static void AppendNumber(StringBuilder line, long value) => line.Append(value.ToString(CultureInfo.InvariantCulture));

    public static void AppendNumber(StringBuilder line, long? value)
    {
        if (value is { } v) AppendNumber(line, v);
    }

    public static void AppendDecimal(StringBuilder line, decimal? value)
    {
        if (value is { } v) line.Append(v.ToString(CultureInfo.InvariantCulture));
    }

    public static void AppendTime(StringBuilder line, DateTimeOffset? value)
    {
        if (value is { } v) line.Append(v.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture));
    }

    public static void AppendGuid(StringBuilder line, Guid? value)
    {
        if (value is { } v) line.Append(v.ToString("D"));
    }
}
