using System.Globalization;
using Npgsql;
using Satsub.Tests.Cli;
using Satsub.Transparency;

namespace Satsub.Tests.Transparency;

/// <summary><c>satsub reports close</c> on the real executable, against PostgreSQL (and the real clock).</summary>
public sealed class ReportsCommandTests() : PostgresCommandTest("satsub-reports-")
{
    [Fact]
    public async Task Close_closes_every_finished_month_once_and_prints_their_row_counts()
    {
        Assert.Equal(0, (await SatsubProcess.RunAsync(Dir, Env(), "migrate")).ExitCode);
        var posting = Guid.NewGuid();
        var first = MonthlyReports.MonthOf(DateTimeOffset.UtcNow).AddMonths(-3);
        var at = MonthlyReports.StartOf(first).AddDays(9).AddMicroseconds(123);
        await using (var conn = new NpgsqlConnection(Database))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO ledger_postings (id, idempotency_key, kind, created_at) VALUES (@id, 'cli:1', 'sale', @at);
                INSERT INTO ledger_entries (posting_id, account, amount_sats) VALUES (@id, 'customer_payments', -1000), (@id, 'owner_revenue', 1000);
                """, conn);
            cmd.Parameters.AddWithValue("id", posting);
            cmd.Parameters.AddWithValue("at", at);
            await cmd.ExecuteNonQueryAsync();
        }

        var close = await SatsubProcess.RunAsync(Dir, Env(), "reports", "close");
        Assert.True(close.ExitCode == 0, close.Stderr);
        // That month and every later one that has ended (ten minutes ago at least) are closed; the sale is in the first.
        var closable = DateTimeOffset.UtcNow >= MonthlyReports.EndOf(first.AddMonths(2)).AddMinutes(10) ? 3 : 2;
        var expected = Enumerable.Range(0, closable)
            .Select(i => $"{MonthlyReports.Format(first.AddMonths(i))}\t{(i == 0 ? 1 : 0)}\tno").Prepend("month\trows\tsigned");
        Assert.Equal(expected, close.StdoutLines);
        Assert.Contains($"Closed or signed {closable} month(s) with 1 rows", close.Stderr, StringComparison.Ordinal);

        await using (var conn = new NpgsqlConnection(Database))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT string_agg(text, '' ORDER BY sequence) FROM closed_report_parts WHERE month = @m", conn);
            cmd.Parameters.AddWithValue("m", MonthlyReports.Format(first));
            var time = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
            Assert.Equal($"{ReportCsv.Header}\nsale,{time},{posting:D},,1000,1000,0,0,,,\n", await cmd.ExecuteScalarAsync());
        }

        var again = await SatsubProcess.RunAsync(Dir, Env(), "reports", "close");
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(["month\trows\tsigned"], again.StdoutLines);
    }
}
