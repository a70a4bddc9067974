using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Data;
using Satsub.Tests.Fixtures;
using Satsub.Transparency;

namespace Satsub.Tests.Transparency;

/// <summary>A report read whole, for small test months: its metadata, its CSV and its rows, both as streamed.</summary>
public sealed record LoadedReport(string Month, bool Closed, ReportTotals Totals, long RowCount, string Sha256, ReportSignature? Signature, string Csv,
    List<ReportRow> Rows);

public static class ReportTestKit
{
    public static async Task<LoadedReport?> ReportAsync(this SatsubServices app, DateOnly month)
    {
        await using var scope = app.Scope();
        await using var report = await scope.ServiceProvider.GetRequiredService<MonthlyReports>().GetAsync(month, default);
        if (report is null) return null;
        var csv = new StringBuilder();
        await foreach (var piece in report.CsvPiecesAsync()) csv.Append(piece);
        var rows = new List<ReportRow>();
        await foreach (var row in report.RowsAsync()) rows.Add(row);
        Assert.Equal(report.RowCount, rows.Count);
        return new LoadedReport(report.Month, report.Closed, report.Totals, report.RowCount, report.Sha256, report.Signature, csv.ToString(), rows);
    }

    /// <summary>A closed month's stored CSV: its parts joined in order.</summary>
    public static async Task<string> StoredCsvAsync(this SatsubDbContext db, string month) =>
        string.Concat(await db.ClosedReportParts.AsNoTracking().Where(p => p.Month == month).OrderBy(p => p.Sequence).Select(p => p.Text).ToListAsync());
}
