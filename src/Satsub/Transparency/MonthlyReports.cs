using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Bitcoin;
using Satsub.Data;

namespace Satsub.Transparency;

/// <summary>
/// A month's report: open (the current month, still changing, unsigned) or closed (final, stored, signed when a key is
/// configured). Its CSV and rows are streamed from where they are kept — a closed month's stored parts, or the open
/// month's snapshot in a temporary file — never held whole; dispose it to delete that file.
/// </summary>
public sealed class MonthlyReport(
    string month,
    bool closed,
    DateTimeOffset? closedAt,
    long rowCount,
    ReportTotals totals,
    string sha256,
    ReportSignature? signature,
    Func<CancellationToken, IAsyncEnumerable<string>> pieces,
    IAsyncDisposable? owned = null) : IAsyncDisposable
{
    public string Month { get; } = month;
    public bool Closed { get; } = closed;
    public DateTimeOffset PeriodStart => MonthlyReports.StartOf(MonthlyReports.ParseMonth(Month));
    public DateTimeOffset PeriodEnd => MonthlyReports.EndOf(MonthlyReports.ParseMonth(Month));
    public DateTimeOffset? ClosedAt { get; } = closedAt;
    public long RowCount { get; } = rowCount;
    public ReportTotals Totals { get; } = totals;
    public string Sha256 { get; } = sha256;
    public ReportSignature? Signature { get; } = signature;

    /// <summary>The canonical CSV as consecutive pieces of text, in order.</summary>
    public IAsyncEnumerable<string> CsvPiecesAsync(CancellationToken ct = default) => pieces(ct);

    /// <summary>The rows, parsed back from the CSV as it streams.</summary>
    public IAsyncEnumerable<ReportRow> RowsAsync(CancellationToken ct = default) => ReportCsv.ReadAsync(pieces(ct), ct);

    /// <summary>Writes the canonical bytes (UTF-8, no byte-order mark) piece by piece.</summary>
    public async Task WriteCsvAsync(Stream body, CancellationToken ct)
    {
        byte[] buffer = [];
        try
        {
            await foreach (var piece in pieces(ct))
            {
                var max = Encoding.UTF8.GetMaxByteCount(piece.Length);
                if (buffer.Length < max)
                {
                    if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(max);
                }
                var n = Encoding.UTF8.GetBytes(piece, buffer);
                await body.WriteAsync(buffer.AsMemory(0, n), ct);
            }
        }
        finally
        {
            if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public ValueTask DisposeAsync() => owned?.DisposeAsync() ?? ValueTask.CompletedTask;
}

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

    /// <summary>Called after each part of a closing report is written (tests sample the heap there, when a part is fullest).</summary>
    internal Action<int>? PartStored { get; set; }

    /// <summary>The report, or null for a month that has not begun. A month that can be closed is closed (stored and signed) first.</summary>
    public async Task<MonthlyReport?> GetAsync(DateOnly month, CancellationToken ct)
    {
        if (StartOf(month) > clock.GetUtcNow()) return null;
        if (CanClose(month)) return await StoredAsync(await CloseAsync(month, ct), ct);
        return await OpenAsync(month, ct);
    }

    /// <summary>
    /// Stores the month's report once (a second call, or a concurrent one on another instance, finds the stored one) and
    /// signs it when a key is configured and it is not signed yet. The stored CSV never changes; only the signature is added.
    /// </summary>
    public async Task<ClosedReport> CloseAsync(DateOnly month, CancellationToken ct)
    {
        if (!CanClose(month)) throw new InvalidOperationException($"The month {Format(month)} cannot be closed yet.");
        var key = Format(month);
        var stored = await db.ClosedReports.AsNoTracking().SingleOrDefaultAsync(r => r.Month == key, ct);
        if (stored is null)
        {
            try
            {
                stored = await StoreAsync(month, ct);
                logger.LogInformation("Closed the report of {Month}: {Rows} rows, sha256 {Sha256}", key, stored.RowCount, stored.Sha256);
            }
            catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
            {
                // Another instance closed it first: its report (the same bytes, from the same ledger) is the one kept.
                db.ChangeTracker.Clear();
                stored = await db.ClosedReports.AsNoTracking().SingleAsync(r => r.Month == key, ct);
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

    /// <summary>
    /// Writes the report row and its parts in one transaction. The row goes first: a concurrent closer's insert of the same
    /// month waits for this transaction and then fails as a unique violation, so one report is kept, whole.
    /// </summary>
    private async Task<ClosedReport> StoreAsync(DateOnly month, CancellationToken ct)
    {
        var key = Format(month);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var report = new ClosedReport { Month = key, ClosedAt = clock.GetUtcNow() };
        db.ClosedReports.Add(report);
        await db.SaveChangesAsync(ct);
        var sequence = 0;
        var summary = await ReportWriter.WriteAsync(db, StartOf(month), EndOf(month), async (text, c) =>
        {
            var part = new ClosedReportPart { Month = key, Sequence = sequence++, Text = text };
            db.ClosedReportParts.Add(part);
            await db.SaveChangesAsync(c);
            db.Entry(part).State = EntityState.Detached;
            PartStored?.Invoke(sequence);
        }, ct);
        report.Sha256 = summary.Sha256;
        report.SetTotals(summary.Rows, summary.Totals);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        db.Entry(report).State = EntityState.Detached;
        return report;
    }

    /// <summary>A stored report, streamed from its parts. One stored before totals were kept gets them summed from its CSV, once.</summary>
    public async Task<MonthlyReport> StoredAsync(ClosedReport r, CancellationToken ct)
    {
        if (r.Totals is null)
        {
            var totals = new ReportTotalsBuilder();
            await foreach (var row in ReportCsv.ReadAsync(PartsAsync(r.Month, ct), ct)) totals.Add(row);
            db.ClosedReports.Attach(r);
            r.SetTotals(totals.Rows, totals.Build());
            await db.SaveChangesAsync(ct);
            db.Entry(r).State = EntityState.Detached;
        }
        var signature = r.Signature is null ? null : new ReportSignature(r.SignatureAddress!, r.SignatureScheme!, r.SignatureMessage!, r.Signature);
        var key = r.Month;
        return new MonthlyReport(key, true, r.ClosedAt, r.RowCount!.Value, r.Totals!, r.Sha256, signature, c => PartsAsync(key, c));
    }

    private async IAsyncEnumerable<string> PartsAsync(string month, [EnumeratorCancellation] CancellationToken ct)
    {
        // One part (about 512 KiB) at a time off one reader, in order.
        await foreach (var text in db.ClosedReportParts.AsNoTracking().Where(p => p.Month == month).OrderBy(p => p.Sequence).Select(p => p.Text)
                           .AsAsyncEnumerable().WithCancellation(ct))
            yield return text;
    }

    /// <summary>
    /// The open month as of now: written once to a temporary file (deleted when the report is disposed), so its digest,
    /// totals and rows describe the same snapshot however many sales commit meanwhile, in memory bounded like closing.
    /// </summary>
    private async Task<MonthlyReport> OpenAsync(DateOnly month, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), $"satsub-report-{Guid.NewGuid():N}.csv");
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            ReportSummary summary;
            await using (var writer = new StreamWriter(file, new UTF8Encoding(false), 64 * 1024, leaveOpen: true))
            {
                summary = await ReportWriter.WriteAsync(db, StartOf(month), EndOf(month), (text, c) => writer.WriteAsync(text.AsMemory(), c), ct);
            }
            return new MonthlyReport(Format(month), false, null, summary.Rows, summary.Totals, summary.Sha256, null, c => FilePiecesAsync(file, c), file);
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    private static async IAsyncEnumerable<string> FilePiecesAsync(FileStream file, [EnumeratorCancellation] CancellationToken ct)
    {
        file.Position = 0;
        using var reader = new StreamReader(file, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, 64 * 1024, leaveOpen: true);
        var buffer = new char[64 * 1024];
        var kept = 0;
        int n;
        while ((n = await reader.ReadAsync(buffer.AsMemory(kept), ct)) > 0)
        {
            var end = kept + n;
            // A piece never ends inside a surrogate pair: each is encoded to UTF-8 on its own.
            kept = char.IsHighSurrogate(buffer[end - 1]) ? 1 : 0;
            yield return new string(buffer, 0, end - kept);
            if (kept == 1) buffer[0] = buffer[end - 1];
        }
        if (kept == 1) yield return new string(buffer, 0, 1);
    }

    public static DateOnly ParseMonth(string month) => DateOnly.ParseExact(month + "-01", "yyyy-MM-dd", CultureInfo.InvariantCulture);
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
        var stored = await db.ClosedReports.AsNoTracking().Select(r => new { r.Month, Signed = r.Signature != null }).ToDictionaryAsync(r => r.Month, r => r.Signed, ct);
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
