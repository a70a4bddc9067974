using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Hosting;

namespace Satsub.Payments.Reconciliation;

/// <summary>
/// Re-reads from its provider every invoice still open, and every invoice settled in the last day, and acts on
/// what the provider says: a webhook that never arrived still ends in exactly one settlement.
/// </summary>
public sealed class Reconciler(SatsubDbContext db, PaymentProviders providers, InvoiceStateApplier applier, TimeProvider clock, ILogger<Reconciler> logger, Operations.SatsubMetrics metrics)
{
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var settledSince = now.AddDays(-1);
        var invoices = await db.Invoices.AsNoTracking()
            // Open invoices of any age: one paid while Satsub was down for longer than its expiry (webhook lost) must
            // still settle. The set stays small because the provider's answer closes each one (expired or settled).
            .Where(i => i.Status == InvoiceStatus.New || i.Status == InvoiceStatus.Processing
                        || (i.Status == InvoiceStatus.Settled && i.SettledAt >= settledSince))
            .OrderBy(i => i.CreatedAt)
            .ToListAsync(ct);
        var changed = 0;
        foreach (var invoice in invoices)
        {
            var provider = providers.ByName(invoice.Provider);
            if (provider is null) continue;
            try
            {
                var state = await provider.GetInvoiceAsync(invoice.ProviderInvoiceId, ct);
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
                logger.LogWarning("Reconciliation could not read invoice {InvoiceId} from {Provider}: {Error}", invoice.Id, invoice.Provider, ex.GetType().Name);
            }
        }
        return changed;
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
