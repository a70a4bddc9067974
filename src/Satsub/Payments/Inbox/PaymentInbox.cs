using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Hosting;
using Satsub.Operations;
using Satsub.Settlement;

namespace Satsub.Payments.Inbox;

/// <summary>
/// Records authenticated provider notifications by their natural id and processes them in the background:
/// each is a trigger to re-fetch the invoice from its provider and act on what the provider says.
/// </summary>
public sealed class PaymentInbox(SatsubDbContext db, PaymentProviders providers, InvoiceStateApplier applier, SettlementService settlement,
    TimeProvider clock, ILogger<PaymentInbox> logger)
{
    private const int BatchSize = 64;
    /// <summary>How many provider reads of one batch are in flight at once.</summary>
    internal const int MaxConcurrentReads = 16;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Processes due events; returns how many were handled. Safe to run from several workers (settlement is exactly once
    /// whatever runs beside it: its claim and unique keys). A batch is handled in three steps: its invoices are read
    /// from the database in one query; their provider states are read in parallel; every invoice the provider calls
    /// settled is settled in one transaction with its events marked processed (one commit for the batch — a webhook
    /// storm is the case this is for, docs/benchmarks.md). Anything else (an unknown invoice, a provider that fails,
    /// a state other than settled, a batch that fails) goes one event at a time, with its own retries and back-off.
    /// </summary>
    public async Task<int> ProcessDueAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var due = await db.PaymentEvents.AsNoTracking()
            .Where(e => e.ProcessedAt == null && (e.NextAttemptAt == null || e.NextAttemptAt <= now))
            .OrderBy(e => e.Id).Take(BatchSize).ToListAsync(ct);
        if (due.Count == 0) return 0;

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var invoices = await InvoicesOfAsync(due, ct);
        var loaded = watch.Elapsed;
        var reads = await ReadStatesAsync(invoices.Values, ct);
        var readAt = watch.Elapsed;

        var settle = new List<(PaymentEvent Event, Invoice Invoice)>();
        var oneByOne = new List<(PaymentEvent Event, Invoice? Invoice, ProviderInvoiceState? State)>();
        foreach (var e in due)
        {
            var invoice = e.ProviderInvoiceId is null ? null : invoices.GetValueOrDefault((e.Provider, e.ProviderInvoiceId));
            var read = invoice is null ? null : reads.GetValueOrDefault(invoice.Id);
            if (invoice is not null && read is { State: { Status: ProviderInvoiceStatus.Settled, Exception: PaymentException.None } }) settle.Add((e, invoice));
            else if (invoice is not null && read is { Error: { } error }) await FailedAsync(e, error, ct);
            else oneByOne.Add((e, invoice, read?.State));
        }

        if (settle.Count > 0 && !await SettleTogetherAsync(settle, ct))
            oneByOne.AddRange(settle.Select(x => (x.Event, (Invoice?)x.Invoice, (ProviderInvoiceState?)null)));
        var settled = watch.Elapsed;
        foreach (var (e, invoice, state) in oneByOne.OrderBy(x => x.Event.Id))
        {
            db.ChangeTracker.Clear();
            await ProcessAsync(e, ct, invoice, state);
        }
        logger.LogDebug("Inbox batch of {Count} events ({Settled} settled together, {Alone} alone): invoices {Load} ms, provider reads {Read} ms, settlement {Settle} ms, the rest {Rest} ms",
            due.Count, settle.Count, oneByOne.Count, (int)loaded.TotalMilliseconds, (int)(readAt - loaded).TotalMilliseconds,
            (int)(settled - readAt).TotalMilliseconds, (int)(watch.Elapsed - settled).TotalMilliseconds);
        return due.Count;
    }

    private async Task<Dictionary<(string Provider, string ProviderInvoiceId), Invoice>> InvoicesOfAsync(List<PaymentEvent> events, CancellationToken ct)
    {
        var result = new Dictionary<(string, string), Invoice>();
        foreach (var byProvider in events.Where(e => e.ProviderInvoiceId is not null).GroupBy(e => e.Provider, StringComparer.Ordinal))
        {
            var provider = byProvider.Key;
            var ids = byProvider.Select(e => e.ProviderInvoiceId!).Distinct(StringComparer.Ordinal).ToList();
            foreach (var invoice in await db.Invoices.AsNoTracking().Where(i => i.Provider == provider && ids.Contains(i.ProviderInvoiceId)).ToListAsync(ct))
                result[(invoice.Provider, invoice.ProviderInvoiceId)] = invoice;
        }
        return result;
    }

    private sealed record Read(ProviderInvoiceState? State, Exception? Error);

    /// <summary>Each invoice's state at its provider, read in parallel; a failed read is kept as its error.</summary>
    private async Task<Dictionary<Guid, Read>> ReadStatesAsync(IEnumerable<Invoice> invoices, CancellationToken ct)
    {
        var reads = new System.Collections.Concurrent.ConcurrentDictionary<Guid, Read>();
        await Parallel.ForEachAsync(invoices, new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentReads, CancellationToken = ct }, async (invoice, token) =>
        {
            if (providers.ByName(invoice.Provider) is not { } provider) return; // one by one: it reports the missing provider
            try
            {
                reads[invoice.Id] = new Read(await provider.GetInvoiceAsync(invoice.ProviderInvoiceId, token), null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                reads[invoice.Id] = new Read(null, ex);
            }
        });
        return new Dictionary<Guid, Read>(reads);
    }

    /// <summary>Settles the batch's paid invoices in one transaction that also marks their events processed. False when it failed.</summary>
    private async Task<bool> SettleTogetherAsync(List<(PaymentEvent Event, Invoice Invoice)> settle, CancellationToken ct)
    {
        var requests = settle.Select(x => new SettlementRequest(x.Invoice.Id, new PaymentEvidence(x.Invoice.Provider, $"{x.Event.Provider}:{x.Event.EventId}", "settled"))).ToList();
        try
        {
            var outcomes = await settlement.SettleBatchAsync(requests, ct, async (tx, outcomes, token) =>
            {
                var processedAt = clock.GetUtcNow();
                foreach (var group in outcomes.Select((o, i) => (Outcome: o, settle[i].Event))
                             .Where(x => x.Outcome.Error is null)
                             .GroupBy(x => x.Outcome.Result!.Replayed ? "already_settled" : "settled"))
                {
                    var ids = group.Select(x => x.Event.Id).ToList();
                    var outcome = group.Key;
                    await tx.PaymentEvents.Where(x => ids.Contains(x.Id)).ExecuteUpdateAsync(s => s
                        .SetProperty(x => x.ProcessedAt, processedAt).SetProperty(x => x.Outcome, outcome).SetProperty(x => x.Attempts, x => x.Attempts + 1), token);
                }
            });
            // A request the batch refused (its invoice is another provider's, say) is retried alone, where it fails with its reason.
            var refused = outcomes.Select((o, i) => (o, i)).Where(x => x.o.Error is not null).Select(x => settle[x.i]).ToList();
            foreach (var (e, invoice) in refused)
            {
                db.ChangeTracker.Clear();
                await ProcessAsync(e, ct, invoice, null);
            }
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            logger.LogWarning("Settling {Count} invoices together failed ({Error}); settling them one by one", settle.Count, ex.GetType().Name);
            db.ChangeTracker.Clear();
            return false;
        }
    }

    private async Task FailedAsync(PaymentEvent e, Exception ex, CancellationToken ct)
    {
        var attempts = e.Attempts + 1;
        var backoff = TimeSpan.FromSeconds(Math.Min(MaxBackoff.TotalSeconds, Math.Pow(2, Math.Min(attempts, 20))));
        logger.LogWarning("Payment event {EventKey} failed (attempt {Attempt}): {Error}; retrying in {Backoff}",
            e.Id, attempts, ex.GetType().Name, backoff);
        db.ChangeTracker.Clear();
        await db.PaymentEvents.Where(x => x.Id == e.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.Attempts, attempts).SetProperty(x => x.NextAttemptAt, clock.GetUtcNow() + backoff), ct);
    }

    /// <summary>One event on its own: <paramref name="known"/> and <paramref name="state"/> when the batch already read them.</summary>
    private async Task ProcessAsync(PaymentEvent e, CancellationToken ct, Invoice? known = null, ProviderInvoiceState? state = null)
    {
        string outcome;
        try
        {
            var invoice = known ?? (e.ProviderInvoiceId is null ? null
                : await db.Invoices.AsNoTracking().SingleOrDefaultAsync(i => i.Provider == e.Provider && i.ProviderInvoiceId == e.ProviderInvoiceId, ct));
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
                state ??= await provider.GetInvoiceAsync(invoice.ProviderInvoiceId, ct);
                outcome = await applier.ApplyAsync(invoice, state, $"{e.Provider}:{e.EventId}", ct);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await FailedAsync(e, ex, ct);
            return;
        }
        db.ChangeTracker.Clear();
        var now = clock.GetUtcNow();
        await db.PaymentEvents.Where(x => x.Id == e.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.ProcessedAt, now).SetProperty(x => x.Outcome, outcome).SetProperty(x => x.Attempts, e.Attempts + 1), ct);
    }

}

/// <summary>Drains the payment inbox every second, or at once when a webhook arrives.</summary>
public sealed class PaymentInboxWorker(IServiceScopeFactory scopes, TimeProvider clock, ILogger<PaymentInboxWorker> logger)
    : PeriodicJob(scopes, clock, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromSeconds(1);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken ct)
    {
        var inbox = services.GetRequiredService<PaymentInbox>();
        // Each settlement queues its notifications: the outbox dispatcher is woken instead of finding them on its next tick.
        var dispatcher = services.GetService<Outbox.OutboxDispatcherWorker>();
        while (await inbox.ProcessDueAsync(ct) > 0) dispatcher?.Wake();
    }
}
