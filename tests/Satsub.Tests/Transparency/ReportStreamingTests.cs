using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Data;
using Satsub.Refunds;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payouts;
using Satsub.Transparency;

namespace Satsub.Tests.Transparency;

public sealed class ReportStreamingTests_Sqlite(ReportSqliteFixture fx) : ReportStreamingTests<ReportSqliteFixture>(fx);

public sealed class ReportStreamingTests_Postgres(ReportPostgresFixture fx) : ReportStreamingTests<ReportPostgresFixture>(fx);

public abstract class ReportStreamingTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : ReportFixture
{
    private SatsubServices App => fx.App;

    /// <summary>
    /// Sales at one instant (the fake clock stands still), so keyset pages end inside runs of equal times, whose order is
    /// the posting ids' text; then two instances close the month at once.
    /// </summary>
    [Fact]
    public async Task AnyPageAndPartSize_WritesTheWholeMonthBytes_AndTwoConcurrentClosesKeepOneReport()
    {
        var january = new DateOnly(2026, 1, 1);
        var affiliate = await App.RegisterAsync();
        var sold = new List<Guid>();
        for (var i = 0; i < 7; i++) sold.Add(await SellAsync(i % 2 == 0 ? affiliate.ReferralCode : null, i % 3 == 0 ? "premium" : "basic"));
        App.Clock.Advance(TimeSpan.FromTicks(10)); // one microsecond: the next run of equal times
        for (var i = 0; i < 5; i++) sold.Add(await SellAsync(affiliate.ReferralCode, "basic"));
        App.Clock.Advance(TimeSpan.FromDays(8));
        await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(sold[1], "test", default));
        await App.WithAsync<Satsub.Affiliates.HoldRelease, int>(h => h.ReleaseDueAsync(default));
        await App.RequestAsync(affiliate.Id, 5_000);
        Assert.Equal(1, await App.ProcessAsync());
        App.Clock.SetUtcNow(new DateTimeOffset(2026, 2, 1, 0, 11, 0, TimeSpan.Zero));
        var (from, to) = (MonthlyReports.StartOf(january), MonthlyReports.EndOf(january));

        var whole = await App.DbAsync(db => WholeMonthReport.BuildAsync(db, from, to));
        Assert.Equal(15, whole.Csv.Count(c => c == '\n')); // the header, 12 sales, a refund, a payout (the hold release is internal)
        Assert.Contains("\npayout,", whole.Csv, StringComparison.Ordinal);
        foreach (var pageSize in new[] { 1, 2, 3, 6, 1000 })
        foreach (var partChars in new[] { 1, 150, 1_000_000 })
        {
            var parts = new List<string>();
            var summary = await App.DbAsync(db => ReportWriter.WriteAsync(db, from, to, (text, _) => { parts.Add(text); return Task.CompletedTask; }, default,
                pageSize, partChars));
            Assert.Equal(whole.Csv, string.Concat(parts));
            Assert.Equal(whole.Sha256, summary.Sha256);
            Assert.Equal(whole.Totals, summary.Totals);
            Assert.Equal(14, summary.Rows);
            Assert.All(parts, p => Assert.EndsWith("\n", p, StringComparison.Ordinal)); // parts hold whole lines
        }

        // Two instances close the month at once: one report is stored, whole, and both answer it.
        await using var one = App.Scope();
        await using var two = App.Scope();
        var closes = await Task.WhenAll(
            Task.Run(() => one.ServiceProvider.GetRequiredService<MonthlyReports>().CloseAsync(january, default)),
            Task.Run(() => two.ServiceProvider.GetRequiredService<MonthlyReports>().CloseAsync(january, default)));
        Assert.All(closes, c => Assert.Equal(whole.Sha256, c.Sha256));
        Assert.Single(await App.DbAsync(db => db.ClosedReports.AsNoTracking().Where(r => r.Month == "2026-01").ToListAsync()));
        var sequences = await App.DbAsync(db => db.ClosedReportParts.Where(p => p.Month == "2026-01").Select(p => p.Sequence).OrderBy(s => s).ToListAsync());
        Assert.Equal(Enumerable.Range(0, sequences.Count), sequences);
        Assert.Equal(whole.Csv, await App.DbAsync(db => db.StoredCsvAsync("2026-01")));
        var served = (await App.ReportAsync(january))!;
        Assert.Equal(whole.Csv, served.Csv);
        Assert.Equal(whole.Totals, served.Totals);
        Assert.True(ReportSigner.Verify(served.Signature!, NBitcoin.Network.Main));
    }

    /// <summary>
    /// A report stored whole (one CSV column) before this migration: the migration cuts it into parts, and it is served
    /// byte for byte as published, its totals summed from it once.
    /// </summary>
    [Fact]
    public async Task Migration_MovesAReportStoredWholeIntoParts_ByteForByte()
    {
        var rows = Enumerable.Range(0, 10_000).Select(i => new ReportRow(i % 10 == 0 ? ReportRow.Refund : ReportRow.Sale,
            new DateTimeOffset(2025, 6, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(i), Guid.NewGuid(), "basic", i % 10 == 0 ? -10_000 : 10_000,
            i % 10 == 0 ? -5_000 : 5_000, i % 10 == 0 ? -5_000 : 5_000, 0, "Affiliate 1A2B3C", null, null)).ToList();
        var csv = ReportCsv.Write(rows);
        Assert.True(csv.Length > 2 * 524_288, $"{csv.Length} characters: the migration cuts it into three parts");
        var sha = ReportCsv.Sha256Hex(csv);
        await App.DbAsync(async db =>
        {
            var migrator = db.GetService<IMigrator>();
            await migrator.MigrateAsync("Standings");
            await db.Database.ExecuteSqlRawAsync("INSERT INTO closed_reports (month, csv, sha256, closed_at) VALUES ('2025-06', {0}, {1}, {2})",
                csv, sha, db.Time(new DateTimeOffset(2025, 7, 1, 0, 10, 0, TimeSpan.Zero)));
            await migrator.MigrateAsync();
            return 0;
        });

        Assert.Equal(3, await App.DbAsync(db => db.ClosedReportParts.CountAsync(p => p.Month == "2025-06")));
        Assert.Equal(csv, await App.DbAsync(db => db.StoredCsvAsync("2025-06")));
        var report = (await App.ReportAsync(new DateOnly(2025, 6, 1)))!;
        Assert.Equal(csv, report.Csv);
        Assert.Equal(sha, report.Sha256);
        Assert.Equal(rows, report.Rows);
        Assert.Equal(ReportTotals.Of(rows), report.Totals);
        var stored = await App.DbAsync(db => db.ClosedReports.AsNoTracking().SingleAsync(r => r.Month == "2025-06"));
        Assert.Equal(10_000, stored.RowCount);
        Assert.Equal(ReportTotals.Of(rows), stored.Totals);
        Assert.Equal(Encoding.UTF8.GetBytes(csv), await CsvBytesAsync(new DateOnly(2025, 6, 1)));
    }

    private async Task<byte[]> CsvBytesAsync(DateOnly month)
    {
        await using var scope = App.Scope();
        await using var report = (await scope.ServiceProvider.GetRequiredService<MonthlyReports>().GetAsync(month, default))!;
        var body = new MemoryStream();
        await report.WriteCsvAsync(body, default);
        return body.ToArray();
    }

    private async Task<Guid> SellAsync(string? referral, string plan)
    {
        var buyer = await App.RegisterAsync(referral);
        var invoice = await App.BuyAsync(buyer.Id, plan);
        await App.SettleAsync(invoice.Id);
        return invoice.Id;
    }
}
