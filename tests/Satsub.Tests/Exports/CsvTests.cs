using System.Text;
using Satsub.Exports;

namespace Satsub.Tests.Exports;

public sealed class CsvTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData("=1+1", "'=1+1")]
    [InlineData("+33 6 12", "'+33 6 12")]
    [InlineData("-2", "'-2")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("\t=cmd", "'\t=cmd")]
    [InlineData("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"")]
    [InlineData("", "")]
    public void Text_is_quoted_per_RFC_4180_and_formulas_are_defused(string value, string expected)
    {
        var line = new StringBuilder();
        Csv.AppendText(line, value);
        Assert.Equal(expected, line.ToString());
        if (value.Length > 0)
        {
            var back = Assert.Single(CsvReader.Parse(line + "\r\n"));
            Assert.Equal(value, back[0].StartsWith('\'') ? back[0][1..] : back[0]);
        }
    }

    [Fact]
    public void Numbers_keep_their_sign_and_times_are_utc()
    {
        var line = new StringBuilder();
        Csv.AppendNumber(line, -5L);
        line.Append(',');
        Csv.AppendTime(line, new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)));
        Assert.Equal("-5,2026-01-02T01:04:05.000000Z", line.ToString());
    }

    [Theory]
    [InlineData("2026-01-01", "2026-02-01", true)]
    [InlineData("2026-01-01T10:00:00+02:00", null, true)]
    [InlineData(null, null, true)]
    [InlineData("yesterday", null, false)]
    [InlineData("2026-02-01", "2026-01-01", false)]
    public void The_window_is_validated(string? from, string? to, bool ok)
    {
        Assert.Equal(ok, ExportsApi.TryParseWindow(from, to, out var window, out var error));
        if (!ok) Assert.NotEmpty(error);
        if (from == "2026-01-01T10:00:00+02:00") Assert.Equal(new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero), window.From);
    }
}
