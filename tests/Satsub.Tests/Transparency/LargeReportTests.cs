using System.Diagnostics;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Satsub.Data;
using Satsub.Payouts;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payouts;
using Satsub.Transparency;
using Xunit.Abstractions;

namespace Satsub.Tests.Transparency;

/// <summary>
/// A month of 40,000 postings on PostgreSQL closed in bounded memory, byte for byte as the whole-month code built it.
/// Alone in the process (<see cref="SerialCollection"/>), so the live-heap samples measure this close and nothing else.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class LargeReportTests(ITestOutputHelper output)
{
    private const int Postings = 40_000;
    private static readonly DateOnly January = new(2026, 1, 1);

    [Fact]
    public async Task A_month_of_forty_thousand_postings_closes_with_flat_memory_into_the_same_bytes_as_the_whole_month_code()
    {
        await using var app = await SatsubServices.StartAsync(DbKind.Postgres, new Dictionary<string, string?>
        {
            ["Payouts:AutoApproveMaxSats"] = "6000",
            ["Affiliate:HoldDays"] = "0",
            ["Transparency:SigningKeyWif"] = ReportSignerTests.Wif,
        }, s =>
        {
            s.RemoveAll<IPayoutProvider>();
            s.AddSingleton<IPayoutProvider, FeePayingPayoutProvider>();
        });
        // Real sales of two plans and a payout (plans and payment hashes come from their own tables), then bulk postings.
        var affiliate = await app.RegisterAsync();
        var invoices = new List<Guid>();
        foreach (var plan in new[] { "basic", "premium", "basic" })
        {
            var invoice = await app.BuyAsync((await app.RegisterAsync(affiliate.ReferralCode)).Id, plan);
            await app.SettleAsync(invoice.Id);
            invoices.Add(invoice.Id);
        }
        await app.RequestAsync(affiliate.Id, 5_000);
        Assert.Equal(1, await app.ProcessAsync());

        var seed = Stopwatch.StartNew();
        await app.DbAsync(db => db.Database.ExecuteSqlRawAsync(
            """
            INSERT INTO ledger_postings (id, idempotency_key, kind, created_at, invoice_id)
            SELECT gen_random_uuid(), 'bulk:' || n,
                   CASE WHEN n % 50 = 0 THEN 'refund' WHEN n % 97 = 0 THEN 'payout_settle' WHEN n % 89 = 0 THEN 'hold_release' ELSE 'sale' END,
                   -- Threes share an instant, and 2,500 postings share one: pages end inside runs of equal times.
                   CASE WHEN n BETWEEN 10001 AND 12500 THEN TIMESTAMPTZ '2026-01-20 10:00:00.123456Z'
                        ELSE TIMESTAMPTZ '2026-01-16' + (n / 3) * INTERVAL '20 seconds' + (n % 3 / 2) * INTERVAL '1 microsecond' END,
                   CASE WHEN n % 50 = 0 OR (n % 97 <> 0 AND n % 89 <> 0) THEN (ARRAY[{1}, {2}, {3}]::uuid[])[1 + n % 3] END
            FROM generate_series(1, {0}) AS n;
            WITH p AS (SELECT id, kind, substr(idempotency_key, 6)::int AS n FROM ledger_postings WHERE idempotency_key LIKE 'bulk:%'),
                 a AS (SELECT p.*, 1000 + (n % 500) * 10 AS amt, n % 11 = 0 AS direct,
                              ('00000000-0000-4000-8000-' || lpad(to_hex(n % 37), 12, '0')) AS aff FROM p)
            INSERT INTO ledger_entries (posting_id, account, amount_sats)
            SELECT id, acct, amount FROM a CROSS JOIN LATERAL (VALUES
                (CASE kind WHEN 'payout_settle' THEN 'payouts_in_flight' WHEN 'hold_release' THEN 'affiliate:' || aff || ':pending' ELSE 'customer_payments' END,
                 CASE kind WHEN 'refund' THEN amt ELSE -amt END),
                (CASE kind WHEN 'payout_settle' THEN 'affiliate:' || aff || ':paid' WHEN 'hold_release' THEN 'affiliate:' || aff || ':available' ELSE 'owner_revenue' END,
                 CASE kind WHEN 'payout_settle' THEN amt - 10 WHEN 'hold_release' THEN amt WHEN 'refund' THEN -(CASE WHEN direct THEN amt ELSE amt / 2 END)
                      ELSE CASE WHEN direct THEN amt ELSE amt / 2 END END),
                (CASE WHEN kind = 'payout_settle' THEN 'payout_fees' WHEN kind IN ('sale', 'refund') AND NOT direct THEN 'affiliate:' || aff || ':pending' END,
                 CASE kind WHEN 'payout_settle' THEN 10 WHEN 'refund' THEN -amt / 2 ELSE amt / 2 END)) AS e(acct, amount)
            WHERE acct IS NOT NULL;
            ANALYZE ledger_postings;
            ANALYZE ledger_entries;
            """, Postings, invoices[0], invoices[1], invoices[2]));
        seed.Stop();
        app.Clock.SetUtcNow(new DateTimeOffset(2026, 2, 1, 0, 11, 0, TimeSpan.Zero));
        var (from, to) = (MonthlyReports.StartOf(January), MonthlyReports.EndOf(January));

        // Closing, sampled after each part is written (when a part is fullest and a page is in hand).
        var samples = new List<long>();
        ClosedReport closed;
        var close = Stopwatch.StartNew();
        await using (var scope = app.Scope())
        {
            var reports = scope.ServiceProvider.GetRequiredService<MonthlyReports>();
            var baseline = GC.GetTotalMemory(forceFullCollection: true);
            reports.PartStored = _ => samples.Add(GC.GetTotalMemory(forceFullCollection: true) - baseline);
            closed = await reports.CloseAsync(January, default);
        }
        close.Stop();
        var growth = samples.Max();

        // The whole-month code on the same ledger, sampled the same way (after its rows, after its string).
        var wholeSamples = new List<long>();
        (string Csv, string Sha256, ReportTotals Totals) whole;
        await using (var scope = app.Scope())
        {
            var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
            var baseline = GC.GetTotalMemory(forceFullCollection: true);
            whole = await WholeMonthReport.BuildAsync(db, from, to, () => wholeSamples.Add(GC.GetTotalMemory(forceFullCollection: true) - baseline));
        }
        var wholeGrowth = wholeSamples.Max();
        var bytes = Encoding.UTF8.GetByteCount(whole.Csv);
        output.WriteLine($"seed {Postings} postings: {seed.ElapsedMilliseconds} ms; close: {close.ElapsedMilliseconds} ms, {closed.RowCount} rows, {bytes / 1024} KiB, " +
                         $"{samples.Count} parts; live heap growth while closing: max {growth / 1024} KiB; whole-month code: max {wholeGrowth / 1024} KiB " +
                         $"(ratio {(double)wholeGrowth / growth:0.0})");

        // Byte for byte what the whole-month code wrote, with its digest and totals; served the same.
        // Every bulk posting but the 437 hold releases (n % 89 = 0, not a refund or payout), and the 3 real sales and 1 payout.
        Assert.Equal(Postings - 437 + 4, closed.RowCount);
        Assert.Equal(whole.Sha256, closed.Sha256);
        Assert.Equal(whole.Totals, closed.Totals);
        Assert.Equal(whole.Csv, await app.DbAsync(db => db.StoredCsvAsync("2026-01")));
        Assert.True(samples.Count >= 8, $"{samples.Count} parts");
        Assert.Contains("\npayout,", whole.Csv, StringComparison.Ordinal);
        Assert.Contains(",premium,", whole.Csv, StringComparison.Ordinal);
        var served = new MemoryStream();
        await using (var scope = app.Scope())
        await using (var report = (await scope.ServiceProvider.GetRequiredService<MonthlyReports>().GetAsync(January, default))!)
        {
            Assert.True(report.Closed);
            await report.WriteCsvAsync(served, default);
            Assert.Equal(closed.RowCount, await report.RowsAsync().CountAsync());
        }
        Assert.Equal(Encoding.UTF8.GetBytes(whole.Csv), served.ToArray());

        // Bounded by a page and a part, not by the month (the whole-month code holds the month several times over).
        Assert.True(growth < 6 * 1024 * 1024, $"the live heap grew by {growth} bytes while closing a {bytes}-byte report");
        Assert.True(wholeGrowth > 4 * growth, $"whole-month {wholeGrowth} vs streamed {growth}");

        // Any page size or part size writes the same bytes: pages of 64 postings end inside the run of 2,500 equal times.
        var parts = new StringBuilder();
        var small = await app.DbAsync(db => ReportWriter.WriteAsync(db, from, to, (text, _) => { parts.Append(text); return Task.CompletedTask; }, default,
            pageSize: 64, partChars: 10_000));
        Assert.Equal(whole.Sha256, small.Sha256);
        Assert.Equal(whole.Csv, parts.ToString());
    }
}
