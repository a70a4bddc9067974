using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Hosting;
using Satsub.Operations;

namespace Satsub.Payments.Inbox;

/// <summary>
/// Records authenticated provider notifications by their natural id and processes them in the background:
/// each is a trigger to re-fetch the invoice from its provider and act on what the provider says.
/// </summary>
public sealed class PaymentInbox(SatsubDbContext db, PaymentProviders providers, InvoiceStateApplier applier, TimeProvider clock, ILogger<PaymentInbox> logger,
    IServiceScopeFactory scopes)
{
    private const int BatchSize = 50;
    /// <summary>How many invoices' events are processed at once on PostgreSQL (docs/benchmarks.md).</summary>
    internal const int MaxLanes = 8;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(10);

    /// <summary>Records a notification; a second delivery of the same event id changes nothing. True when new.</summary>
    public async Task<bool> RecordAsync(string provider, WebhookNotification notification, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        Guid? invoiceId = notification.ProviderInvoiceId is { } pid
            ? await db.Invoices.Where(i => i.Provider == provider && i.ProviderInvoiceId == pid).Select(i => (Guid?)i.Id).SingleOrDefaultAsync(ct)
            : null;
        var at = db.Time(now);
        var inserted = await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO payment_events (provider, event_id, invoice_id, provider_invoice_id, kind, received_at, attempts, next_attempt_at) " +
            "VALUES ({0}, {1}, {2}, {3}, {4}, {5}, 0, {5}) ON CONFLICT (provider, event_id) DO NOTHING",
            [provider, Truncate(notification.EventId, 200), db.Nullable("invoice_id", invoiceId), db.Nullable("provider_invoice_id", notification.ProviderInvoiceId), Truncate(notification.Kind, 64), at], ct);
        return inserted > 0;
    }

    /// <summary>Processes due events; returns how many were handled. Safe to run from several workers.</summary>
    public async Task<int> ProcessDueAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var due = await db.PaymentEvents.AsNoTracking()
            .Where(e => e.ProcessedAt == null && (e.NextAttemptAt == null || e.NextAttemptAt <= now))
            .OrderBy(e => e.Id).Take(BatchSize).ToListAsync(ct);
        // One lane per invoice keeps each invoice's events in order. On PostgreSQL the lanes run at once, each on its own
        // scope and connection: a settlement is two provider reads and a dozen round trips, so one at a time caps the
        // throughput at 1 / its latency (docs/benchmarks.md). Settlement stays exactly once whatever runs beside it
        // (its claim and unique keys).
        // SQLite has one writer: there the lanes run one after the other.
        var lanes = due.GroupBy(e => e.ProviderInvoiceId is null ? "event:" + e.Id : e.Provider + ":" + e.ProviderInvoiceId).ToList();
        if (!db.IsPostgres || lanes.Count == 1)
        {
            foreach (var e in due) await ProcessInOrderAsync([e], ct);
            return due.Count;
        }
        await Parallel.ForEachAsync(lanes, new ParallelOptions { MaxDegreeOfParallelism = MaxLanes, CancellationToken = ct }, async (lane, token) =>
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<PaymentInbox>().ProcessInOrderAsync(lane, token);
        });
        return due.Count;
    }

    private async Task ProcessInOrderAsync(IEnumerable<PaymentEvent> events, CancellationToken ct)
    {
        foreach (var e in events)
        {
            db.ChangeTracker.Clear();
            await ProcessAsync(e, ct);
        }
    }

    private async Task ProcessAsync(PaymentEvent e, CancellationToken ct)
    {
        string outcome;
        try
        {
            var invoice = e.ProviderInvoiceId is null ? null
                : await db.Invoices.AsNoTracking().SingleOrDefaultAsync(i => i.Provider == e.Provider && i.ProviderInvoiceId == e.ProviderInvoiceId, ct);
            if (invoice is null)
            {
                // Answered 200 already (so the provider stops retrying); the owner sees it.
                await AdminFlags.RaiseAsync(db, "webhook_unknown_invoice", $"unknown-invoice:{e.Provider}:{e.ProviderInvoiceId ?? e.EventId}",
                    $"{e.Provider} invoice {e.ProviderInvoiceId ?? "(none)"}",
                    $"A verified {e.Provider} notification ({e.Kind}) names an invoice Satsub did not create.", clock.GetUtcNow(), ct);
                outcome = "unknown_invoice";
            }
            else
            {
                var provider = providers.ByName(e.Provider)
                    ?? throw new InvalidOperationException($"Provider '{e.Provider}' is no longer configured.");
                var state = await provider.GetInvoiceAsync(invoice.ProviderInvoiceId, ct);
                outcome = await applier.ApplyAsync(invoice, state, $"{e.Provider}:{e.EventId}", ct);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var attempts = e.Attempts + 1;
            var backoff = TimeSpan.FromSeconds(Math.Min(MaxBackoff.TotalSeconds, Math.Pow(2, Math.Min(attempts, 20))));
            logger.LogWarning("Payment event {EventKey} failed (attempt {Attempt}): {Error}; retrying in {Backoff}",
                e.Id, attempts, ex.GetType().Name, backoff);
            db.ChangeTracker.Clear();
            await db.PaymentEvents.Where(x => x.Id == e.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Attempts, attempts).SetProperty(x => x.NextAttemptAt, clock.GetUtcNow() + backoff), ct);
            return;
        }
        db.ChangeTracker.Clear();
        var now = clock.GetUtcNow();
        await db.PaymentEvents.Where(x => x.Id == e.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.ProcessedAt, now).SetProperty(x => x.Outcome, outcome).SetProperty(x => x.Attempts, e.Attempts + 1), ct);
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}

/// <summary>Drains the payment inbox every second, or at once when a webhook arrives.</summary>
public sealed class PaymentInboxWorker(IServiceScopeFactory scopes, TimeProvider clock, ILogger<PaymentInboxWorker> logger)
    : PeriodicJob(scopes, clock, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(1);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken ct)
    {
        var inbox = services.GetRequiredService<PaymentInbox>();
        while (await inbox.ProcessDueAsync(ct) > 0) { }
    }
}
