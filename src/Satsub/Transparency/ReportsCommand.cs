using System.CommandLine;
using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;

namespace Satsub.Transparency;

/// <summary><c>satsub reports close</c>: what the hourly report closing job does, once, from the command line.</summary>
public static class ReportsCommand
{
    public static Command Command(Func<bool, Func<IServiceProvider, CancellationToken, Task<int>>, CancellationToken, Task<int>> withServices)
    {
        var close = new Command("close", "Close (store and sign) every finished month's transparency report not closed yet, as the hourly job does, " +
            "and sign stored ones when a key is configured. Prints each month closed or signed and its row count. Safe to repeat.");
        close.SetAction((_, ct) => withServices(true, async (sp, c) =>
        {
            var watch = Stopwatch.StartNew();
            var db = sp.GetRequiredService<SatsubDbContext>();
            var months = await ReportClosingJob.CloseDueAsync(db, sp.GetRequiredService<MonthlyReports>(), sp.GetRequiredService<TimeProvider>(), c);
            var rows = await db.ClosedReports.AsNoTracking().Where(r => months.Contains(r.Month))
                .Select(r => new { r.Month, r.RowCount, Signed = r.Signature != null }).ToListAsync(c);
            Console.WriteLine("month\trows\tsigned");
            foreach (var r in rows.OrderBy(r => r.Month, StringComparer.Ordinal))
                Console.WriteLine($"{r.Month}\t{r.RowCount}\t{(r.Signed ? "yes" : "no")}");
            Console.Error.WriteLine($"Closed or signed {months.Count} month(s) with {rows.Sum(r => r.RowCount ?? 0)} rows in {watch.Elapsed.TotalSeconds:0.0} s.");
            return 0;
        }, ct));
        var reports = new Command("reports", "Monthly transparency reports (docs/transparency.md).");
        reports.Subcommands.Add(close);
        return reports;
    }
}
