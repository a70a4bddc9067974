using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Hosting;

namespace Satsub.Payments.Reconciliation;

/// <summary>
/// Re-reads invoices from their provider and acts on what the provider says: every open invoice at every pass (a
/// webhook that never arrived still ends in exactly one settlement), and every settled invoice twice, an hour and
/// a day after it settled (a settled payment the provider later calls invalid, or paid late or over, is flagged).
/// </summary>
/// <remarks>
/// Settled invoices are re-read at those two ages, not at every pass: re-reading each invoice of the last day every
/// five minutes cost 288 provider reads per sale and grew with the sales rate. Each age keeps a cursor (the
/// <c>settled_at</c> it has re-read up to) in <c>provider_cursors</c>, so nothing is skipped when a pass is late or
/// capped. A read that fails (the provider is down) holds the cursor there for the next pass, for at most
/// <see cref="RetryFailedRereadsFor"/>, then the invoice is left to its next age; only the invoices that settled at the
/// same instant as a failed one are read again at the same age.
/// </remarks>
public sealed class Reconciler(SatsubDbContext db, PaymentProviders providers, InvoiceStateApplier applier, TimeProvider clock, ILogger<Reconciler> logger, Operations.SatsubMetrics metrics)
{
    /// <summary>The ages at which a settled invoice is re-read once.</summary>
    internal static readonly TimeSpan[] SettledRereadAges = [TimeSpan.FromHours(1), TimeSpan.FromDays(1)];
    internal const string CursorProvider = "reconciliation";
    /// <summary>Settled invoices re-read per page; a pass reads at most <see cref="MaxSettledPagesPerPass"/> pages per age.</summary>
    internal const int SettledPageSize = 500;
    internal const int MaxSettledPagesPerPass = 20;
    internal static readonly TimeSpan RetryFailedRereadsFor = TimeSpan.FromHours(6);

    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var open = await db.Invoices.AsNoTracking()
            // Open invoices of any age: one paid while Satsub was down for longer than its expiry (webhook lost) must
            // still settle. The set stays small because the provider's answer closes each one (expired or settled).
            .Where(i => i.Status == InvoiceStatus.New || i.Status == InvoiceStatus.Processing)
            .OrderBy(i => i.CreatedAt)
            .ToListAsync(ct);
        var (changed, _) = await ReconcileAsync(open, ct);
        foreach (var age in SettledRereadAges)
            changed += await RereadSettledAsync(age, ct);
        return changed;
    }

    /// <summary>Re-reads the invoices that settled between the age's cursor and <paramref name="age"/> ago, page by page.</summary>
    private async Task<int> RereadSettledAsync(TimeSpan age, CancellationToken ct)
    {
        var name = $"settled+{(long)age.TotalMinutes}m";
        var until = clock.GetUtcNow() - age;
        var stored = await db.ProviderCursors.AsNoTracking().Where(c => c.Provider == CursorProvider && c.Name == name).Select(c => c.Value).SingleOrDefaultAsync(ct);
        // First pass (a new database, or one from before these cursors): an hour's worth (passes used to re-read the
        // whole last day every time, so older invoices have been re-read already).
        var after = stored is null ? until - TimeSpan.FromHours(1) : DateTimeOffset.Parse(stored, CultureInfo.InvariantCulture);
        var changed = 0;
        for (var page = 0; page < MaxSettledPagesPerPass && after < until; page++)
        {
            var from = after;
            var invoices = await db.Invoices.AsNoTracking()
                .Where(i => i.Status == InvoiceStatus.Settled && i.SettledAt > from && i.SettledAt <= until)
                .OrderBy(i => i.SettledAt).Take(SettledPageSize).ToListAsync(ct);
            if (invoices.Count == SettledPageSize)
            {
                // A batch settles many invoices at one instant: finish that instant here, so the cursor can move past it.
                var last = invoices[^1].SettledAt;
                var seen = invoices.Where(i => i.SettledAt == last).Select(i => i.Id).ToHashSet();
                invoices.AddRange(await db.Invoices.AsNoTracking()
                    .Where(i => i.Status == InvoiceStatus.Settled && i.SettledAt == last && !seen.Contains(i.Id)).ToListAsync(ct));
            }
            var (found, failed) = await ReconcileAsync(invoices, ct);
            changed += found;
            var retry = invoices.FirstOrDefault(i => failed.Contains(i.Id) && i.SettledAt > until - RetryFailedRereadsFor);
            // Before the first failed read that is still worth retrying (the timestamps are whole microseconds).
            after = retry is not null ? retry.SettledAt!.Value - TimeSpan.FromMicroseconds(1)
                : invoices.Count < SettledPageSize ? until : invoices[^1].SettledAt!.Value;
            await StoreCursorAsync(name, after, ct);
            if (retry is not null) break;
        }
        return changed;
    }

    /// <summary>Reads the invoices' states in parallel, then acts on each in turn. Returns how many changed and which could not be read or applied.</summary>
    private async Task<(int Changed, HashSet<Guid> Failed)> ReconcileAsync(List<Invoice> invoices, CancellationToken ct)
    {
        var states = new System.Collections.Concurrent.ConcurrentDictionary<Guid, ProviderInvoiceState>();
        await Parallel.ForEachAsync(invoices, new ParallelOptions { MaxDegreeOfParallelism = Inbox.PaymentInbox.MaxConcurrentReads, CancellationToken = ct }, async (invoice, token) =>
        {
            if (providers.ByName(invoice.Provider) is not { } provider) return;
            try
            {
                states[invoice.Id] = await provider.GetInvoiceAsync(invoice.ProviderInvoiceId, token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                logger.LogWarning("Reconciliation could not read invoice {InvoiceId} from {Provider}: {Error}", invoice.Id, invoice.Provider, ex.GetType().Name);
            }
        });
        var changed = 0;
        var failed = new HashSet<Guid>();
        foreach (var invoice in invoices)
        {
            if (!states.TryGetValue(invoice.Id, out var state))
            {
                if (providers.ByName(invoice.Provider) is not null) failed.Add(invoice.Id);
                continue;
            }
            // Settled here and there, nothing to report: the common case of a re-read, answered without a transaction.
            if (invoice.Status == InvoiceStatus.Settled && state is { Status: ProviderInvoiceStatus.Settled, Exception: PaymentException.None }) continue;
            try
            {
                db.ChangeTracker.Clear();
                var outcome = await applier.ApplyAsync(invoice, state, $"reconcile:{invoice.ProviderInvoiceId}:{EnumNames.ToSnake(state.Status)}", ct);
                if (outcome is not ("unchanged" or "already_settled"))
                {
                    changed++;
                    metrics.ReconciliationFinding(outcome);
                    logger.LogInformation("Reconciliation: invoice {InvoiceId} → {Outcome}", invoice.Id, outcome);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                failed.Add(invoice.Id);
                logger.LogWarning("Reconciliation could not apply {Provider}'s state of invoice {InvoiceId}: {Error}", invoice.Provider, invoice.Id, ex.GetType().Name);
            }
        }
        return (changed, failed);
    }

    private async Task StoreCursorAsync(string name, DateTimeOffset value, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var text = value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
        var cursor = await db.ProviderCursors.SingleOrDefaultAsync(c => c.Provider == CursorProvider && c.Name == name, ct);
        if (cursor is null)
            db.ProviderCursors.Add(new ProviderCursor { Provider = CursorProvider, Name = name, Value = text, UpdatedAt = clock.GetUtcNow() });
        else
        {
            cursor.Value = text;
            cursor.UpdatedAt = clock.GetUtcNow();
        }
        await db.SaveChangesAsync(ct);
    }
}

public sealed class ReconciliationWorker(IServiceScopeFactory scopes, TimeProvider clock, IOptions<PaymentsOptions> options, ILogger<ReconciliationWorker> logger)
    : PeriodicJob(scopes, clock, logger)
{
    protected override bool OncePerPeriod => true;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.ReconcileIntervalSeconds);

    protected override Task RunOnceAsync(IServiceProvider services, CancellationToken ct) =>
        services.GetRequiredService<Reconciler>().RunOnceAsync(ct);
}
