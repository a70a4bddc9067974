using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Bitcoin;
using Satsub.Data;

namespace Satsub.Transparency;

/// <summary>A month's report: open (the current month, still changing, unsigned) or closed (final, stored, signed when a key is configured).</summary>
public sealed record MonthlyReport(
    string Month,
    bool Closed,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    DateTimeOffset? ClosedAt,
    IReadOnlyList<ReportRow> Rows,
    ReportTotals Totals,
    string Csv,
    string Sha256,
    ReportSignature? Signature);

/// <summary>Builds, closes and signs monthly reports. A closed month's report is stored once and served from storage ever after.</summary>
public sealed class MonthlyReports(SatsubDbContext db, TimeProvider clock, IOptions<TransparencyOptions> options, IOptions<BitcoinOptions> bitcoin,
    ILogger<MonthlyReports> logger)
{
    /// <summary>The first month of bitcoin: nothing can be reported before it.</summary>
    private static readonly DateOnly Genesis = new(2009, 1, 1);

    public static bool TryParseMonth(string? text, out DateOnly month)
    {
        month = default;
        if (text is not { Length: 7 } || text[4] != '-') return false;
        if (!DateOnly.TryParseExact(text + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out month)) return false;
        return month >= Genesis;
    }

    public static string Format(DateOnly month) => month.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    public static DateTimeOffset StartOf(DateOnly month) => new(month.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);

    public static DateTimeOffset EndOf(DateOnly month) => StartOf(month).AddMonths(1);

    public static DateOnly MonthOf(DateTimeOffset at)
    {
        var utc = at.UtcDateTime;
        return new DateOnly(utc.Year, utc.Month, 1);
    }

    /// <summary>Whether the month can be closed now: it ended at least <c>Transparency:CloseDelayMinutes</c> ago.</summary>
    public bool CanClose(DateOnly month) => clock.GetUtcNow() >= EndOf(month).AddMinutes(options.Value.CloseDelayMinutes);

    /// <summary>The report, or null for a month that has not begun. A month that can be closed is closed (stored and signed) first.</summary>
    public async Task<MonthlyReport?> GetAsync(DateOnly month, CancellationToken ct)
    {
        if (StartOf(month) > clock.GetUtcNow()) return null;
        if (CanClose(month)) return FromStored(await CloseAsync(month, ct));
        var rows = await ReportBuilder.RowsAsync(db, StartOf(month), EndOf(month), ct);
        var csv = ReportCsv.Write(rows);
        return new MonthlyReport(Format(month), false, StartOf(month), EndOf(month), null, ReportCsv.Read(csv), ReportTotals.Of(rows), csv,
            ReportCsv.Sha256Hex(csv), null);
    }

    /// <summary>
    /// Stores the month's report once (a second call, or a concurrent one on another instance, finds the stored one) and
    /// signs it when a key is configured and it is not signed yet. The stored CSV never changes; only the signature is added.
    /// </summary>
    public async Task<ClosedReport> CloseAsync(DateOnly month, CancellationToken ct)
    {
        if (!CanClose(month)) throw new InvalidOperationException($"The month {Format(month)} cannot be closed yet.");
        var key = Format(month);
        var stored = await db.ClosedReports.SingleOrDefaultAsync(r => r.Month == key, ct);
        if (stored is null)
        {
            var rows = await ReportBuilder.RowsAsync(db, StartOf(month), EndOf(month), ct);
            var csv = ReportCsv.Write(rows);
            stored = new ClosedReport { Month = key, Csv = csv, Sha256 = ReportCsv.Sha256Hex(csv), ClosedAt = clock.GetUtcNow() };
            db.ClosedReports.Add(stored);
            try
            {
                await db.SaveChangesAsync(ct);
                logger.LogInformation("Closed the report of {Month}: {Rows} rows, sha256 {Sha256}", key, rows.Count, stored.Sha256);
            }
            catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
            {
                db.ChangeTracker.Clear();
                stored = await db.ClosedReports.SingleAsync(r => r.Month == key, ct);
            }
        }
        if (stored.Signature is null && ReportSigner.Create(options.Value, bitcoin.Value.ToNBitcoin()) is { } signer)
        {
            var signature = signer.Sign(ReportCsv.SignedMessage(key, stored.Sha256));
            // Only an unsigned row is signed: two instances signing at once leave one signature (both are valid anyway).
            await db.ClosedReports.Where(r => r.Month == key && r.Signature == null).ExecuteUpdateAsync(s => s
                .SetProperty(r => r.SignatureAddress, signature.Address)
                .SetProperty(r => r.SignatureScheme, signature.Scheme)
                .SetProperty(r => r.SignatureMessage, signature.Message)
                .SetProperty(r => r.Signature, signature.Signature)
                .SetProperty(r => r.SignedAt, clock.GetUtcNow()), ct);
            db.ChangeTracker.Clear();
            stored = await db.ClosedReports.AsNoTracking().SingleAsync(r => r.Month == key, ct);
            logger.LogInformation("Signed the report of {Month} with {Address}", key, signature.Address);
        }
        return stored;
    }

    public static MonthlyReport FromStored(ClosedReport r)
    {
        var month = DateOnly.ParseExact(r.Month + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture);
        var rows = ReportCsv.Read(r.Csv);
        var signature = r.Signature is null ? null : new ReportSignature(r.SignatureAddress!, r.SignatureScheme!, r.SignatureMessage!, r.Signature);
        return new MonthlyReport(r.Month, true, StartOf(month), EndOf(month), r.ClosedAt, rows, ReportTotals.Of(rows), r.Csv, r.Sha256, signature);
    }
}

/// <summary>
/// Closes (stores and signs) every finished month that has activity and no stored report yet, and signs stored reports
/// that were closed before a key was configured. Hourly; closing is idempotent, so several instances may run it.
/// </summary>
public sealed class ReportClosingJob(IServiceScopeFactory scopes, TimeProvider time, ILogger<ReportClosingJob> logger)
    : Hosting.PeriodicJob(scopes, time, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromHours(1);

    protected override bool OncePerPeriod => true;

    protected override Task RunOnceAsync(IServiceProvider services, CancellationToken ct) =>
        CloseDueAsync(services.GetRequiredService<SatsubDbContext>(), services.GetRequiredService<MonthlyReports>(), services.GetRequiredService<TimeProvider>(), ct);

    /// <summary>Returns the months it closed or signed.</summary>
    public static async Task<List<string>> CloseDueAsync(SatsubDbContext db, MonthlyReports reports, TimeProvider clock, CancellationToken ct)
    {
        var done = new List<string>();
        var first = await db.LedgerPostings.MinAsync(p => (DateTimeOffset?)p.CreatedAt, ct);
        if (first is null) return done;
        var stored = await db.ClosedReports.AsNoTracking().ToDictionaryAsync(r => r.Month, r => r.Signature != null, ct);
        for (var month = MonthlyReports.MonthOf(first.Value); reports.CanClose(month); month = month.AddMonths(1))
        {
            var key = MonthlyReports.Format(month);
            if (stored.TryGetValue(key, out var signed) && signed) continue;
            var closed = await reports.CloseAsync(month, ct);
            if (!stored.ContainsKey(key) || closed.Signature is not null) done.Add(key);
            if (MonthlyReports.StartOf(month) > clock.GetUtcNow()) break;
        }
        return done;
    }
}
