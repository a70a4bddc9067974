using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Common;
using Satsub.Data;
using Satsub.Hosting;

namespace Satsub.Payouts;

/// <summary>
/// Sends approved payouts, crash-safe. Each run first reconciles payouts left in <c>sending</c> (by a crash or a
/// time-out) with their provider, and only then claims approved ones: the claim (approved → sending, the attempt
/// counted) and any preparation (the invoice to pay, with its payment hash) are committed before the provider is
/// called, and the outcome is recorded by a conditional update with its posting, so no path pays twice.
/// </summary>
public sealed class PayoutProcessor(SatsubDbContext db, IEnumerable<IPayoutProvider> providers, TimeProvider clock, IOptions<PayoutOptions> options,
    ILogger<PayoutProcessor> logger)
{
    /// <summary>After this many claims that the provider never heard of, the payout fails and the money goes back.</summary>
    public const int MaxAttempts = 3;

    private const int BatchSize = 20;

    private IPayoutProvider? ProviderFor(string name) => providers.FirstOrDefault(p => p.Name == name);

    private IEnumerable<string> AutomaticProviders => providers.Where(p => p.SendsAutomatically).Select(p => p.Name);

    /// <summary>One pass: reconcile, then send. Returns how many payouts changed state.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var done = await ReconcileAsync(ct);
        var automatic = AutomaticProviders.ToList();
        var ids = await db.Payouts.AsNoTracking()
            .Where(p => p.Status == PayoutStatus.Approved && automatic.Contains(p.Provider))
            .OrderBy(p => p.RequestedAt).Select(p => p.Id).Take(BatchSize).ToListAsync(ct);
        foreach (var id in ids)
        {
            try
            {
                var claimed = await ClaimAsync(id, ct);
                if (claimed is not null && await SendClaimedAsync(claimed, ct)) done++;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // The payout stays where it is (approved, or sending to be reconciled): never guess.
                logger.LogError(ex, "Payout {PayoutId} could not be processed; it is retried or reconciled later", id);
            }
        }
        return done;
    }

    /// <summary>Approved → sending, with the attempt recorded. Null when another worker claimed it first.</summary>
    public async Task<Payout?> ClaimAsync(Guid id, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var now = clock.GetUtcNow();
        var claimed = await PayoutBook.TransitionAsync(db, id, [PayoutStatus.Approved], PayoutStatus.Sending, now,
            s => s.SetProperty(p => p.Attempts, p => p.Attempts + 1).SetProperty(p => p.LastAttemptAt, now), ct);
        return claimed == 0 ? null : await db.Payouts.AsNoTracking().SingleAsync(p => p.Id == id, ct);
    }

    /// <summary>Prepares (storing the invoice first), sends, and records the outcome. True when the payout reached a final state.</summary>
    public async Task<bool> SendClaimedAsync(Payout payout, CancellationToken ct)
    {
        var provider = ProviderFor(payout.Provider) ?? throw new InvalidOperationException($"No payout provider '{payout.Provider}' is registered.");
        PayoutPreparation? prepared;
        try
        {
            prepared = await provider.PrepareAsync(payout, ct);
        }
        catch (DomainException e)
        {
            // Refused before any money moved (e.g. a Lightning Address returned a wrong-amount invoice).
            return await RecordAsync(payout, PayoutAttempt.Failed(e.Message), ct);
        }
        if (prepared is not null)
        {
            db.ChangeTracker.Clear();
            var stored = await db.Payouts.Where(p => p.Id == payout.Id && p.Status == PayoutStatus.Sending)
                .ExecuteUpdateAsync(s => s.SetProperty(p => p.Invoice, prepared.Invoice).SetProperty(p => p.PaymentHash, prepared.PaymentHash), ct);
            if (stored == 0) return false;
            payout.Invoice = prepared.Invoice;
            payout.PaymentHash = prepared.PaymentHash;
        }

        PayoutAttempt attempt;
        try
        {
            attempt = await provider.SendAsync(payout, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // The request may or may not have reached the provider: in flight until the provider says otherwise.
            logger.LogWarning(ex, "Sending payout {PayoutId} ended without an answer; it stays in flight and is reconciled", payout.Id);
            attempt = PayoutAttempt.InFlight(payout.PaymentHash);
        }
        return await RecordAsync(payout, attempt, ct);
    }

    /// <summary>Payouts in <c>sending</c> for longer than <c>Payouts:ReconcileAfterSeconds</c>, settled by what their provider says.</summary>
    public async Task<int> ReconcileAsync(CancellationToken ct)
    {
        var staleBefore = clock.GetUtcNow() - TimeSpan.FromSeconds(options.Value.ReconcileAfterSeconds);
        var stuck = await db.Payouts.AsNoTracking()
            .Where(p => p.Status == PayoutStatus.Sending && p.UpdatedAt <= staleBefore)
            .OrderBy(p => p.UpdatedAt).Take(BatchSize).ToListAsync(ct);
        var done = 0;
        foreach (var payout in stuck)
        {
            try
            {
                if (await ReconcileOneAsync(payout, ct)) done++;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                logger.LogError(ex, "Payout {PayoutId} could not be reconciled; it stays in flight", payout.Id);
            }
        }
        return done;
    }

    private async Task<bool> ReconcileOneAsync(Payout payout, CancellationToken ct)
    {
        var provider = ProviderFor(payout.Provider);
        if (provider is null || !provider.SendsAutomatically) return false;
        var found = await provider.LookupAsync(payout, ct);
        if (found is not null) return await RecordAsync(payout, found, ct);

        // The provider never heard of it: nothing left the wallet, so it may be sent again (or given back after MaxAttempts).
        if (payout.Attempts >= MaxAttempts)
            return await RecordAsync(payout, PayoutAttempt.Failed($"Not sent after {payout.Attempts} attempts."), ct);
        db.ChangeTracker.Clear();
        var reopened = await PayoutBook.TransitionAsync(db, payout.Id, [PayoutStatus.Sending], PayoutStatus.Approved, clock.GetUtcNow(), null, ct);
        if (reopened > 0) logger.LogInformation("Payout {PayoutId} was never received by {Provider}; it is sent again", payout.Id, payout.Provider);
        return false;
    }

    private async Task<bool> RecordAsync(Payout payout, PayoutAttempt attempt, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        for (var i = 1; ; i++)
        {
            try
            {
                switch (attempt.Outcome)
                {
                    case PayoutAttemptOutcome.Sent:
                        var sent = await PayoutBook.CompleteSentAsync(db, payout.Id, [PayoutStatus.Sending], attempt, options.Value.Fees, now, ct);
                        if (sent) logger.LogInformation("Payout {PayoutId} sent: {Amount} sats, fee {Fee}", payout.Id, payout.AmountSats, attempt.FeeSats);
                        return sent;
                    case PayoutAttemptOutcome.Failed:
                        var failed = await PayoutBook.ReturnAsync(db, payout.Id, [PayoutStatus.Sending], PayoutStatus.Failed, attempt.FailureReason ?? "failed", now, ct);
                        if (failed) logger.LogWarning("Payout {PayoutId} failed: {Reason}; the amount is available again", payout.Id, attempt.FailureReason);
                        return failed;
                    default:
                        return false;
                }
            }
            catch (Exception ex) when (i < 5 && DbErrors.IsRetryableConflict(ex))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10 * i), ct);
            }
        }
    }
}

/// <summary>Runs the <see cref="PayoutProcessor"/> every <c>Payouts:IntervalSeconds</c> (5 s by default).</summary>
public sealed class PayoutWorker(IServiceScopeFactory scopes, TimeProvider clock, IOptions<PayoutOptions> options, ILogger<PayoutWorker> logger)
    : PeriodicJob(scopes, clock, logger)
{
    protected override bool OncePerPeriod => true;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(options.Value.IntervalSeconds);

    protected override Task RunOnceAsync(IServiceProvider services, CancellationToken ct) =>
        services.GetRequiredService<PayoutProcessor>().RunOnceAsync(ct);
}
