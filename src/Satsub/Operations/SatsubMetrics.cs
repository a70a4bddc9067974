using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Payouts;

namespace Satsub.Operations;

/// <summary>
/// Satsub's business and operations instruments (meter <see cref="MeterName"/>). Counters count what this process
/// did since it started (Prometheus sums them across instances and handles restarts); the gauges read the shared
/// database at scrape time, so every instance reports the same payouts and outbox figures.
/// Exposed at <c>/metrics</c> as <c>satsub_*</c>; the list is in docs/operations-metrics.md.
/// </summary>
public sealed class SatsubMetrics
{
    public const string MeterName = "Satsub";

    private readonly Counter<long> sales;
    private readonly Counter<long> satsSettled;
    private readonly Counter<long> commissions;
    private readonly Counter<long> commissionSats;
    private readonly Counter<long> webhookVerificationFailures;
    private readonly Counter<long> telegramSends;
    private readonly Counter<long> telegramRateLimited;
    private readonly Counter<long> reconciliationFindings;
    private readonly IServiceScopeFactory scopes;
    private readonly TimeProvider clock;

    public SatsubMetrics(IMeterFactory meters, IServiceScopeFactory scopes, TimeProvider clock)
    {
        this.scopes = scopes;
        this.clock = clock;
        var meter = meters.Create(MeterName);
        sales = meter.CreateCounter<long>("satsub_sales", description: "Settled sales (invoices paid), by plan and payment provider.");
        satsSettled = meter.CreateCounter<long>("satsub_sats_settled", description: "Satoshis received in settled sales, by plan and payment provider.");
        commissions = meter.CreateCounter<long>("satsub_commissions", description: "Affiliate commissions earned (one per referred sale).");
        commissionSats = meter.CreateCounter<long>("satsub_commission_sats", description: "Satoshis of affiliate commission earned.");
        webhookVerificationFailures = meter.CreateCounter<long>("satsub_webhook_verification_failures",
            description: "Incoming payment-provider webhooks refused because their signature or authentication failed, by provider.");
        telegramSends = meter.CreateCounter<long>("satsub_telegram_sends", description: "Telegram Bot API send calls, by method and outcome (ok, error, rate_limited).");
        telegramRateLimited = meter.CreateCounter<long>("satsub_telegram_rate_limited", description: "Telegram answers 429 Too Many Requests, by method.");
        reconciliationFindings = meter.CreateCounter<long>("satsub_reconciliation_findings",
            description: "Invoices whose state reconciliation with the provider changed, by outcome.");
        meter.CreateObservableGauge("satsub_outbox_lag_seconds", ObserveOutboxLag,
            description: "Age in seconds of the oldest outbox message not yet dispatched (0 when none is pending).");
        meter.CreateObservableGauge("satsub_outbox_pending", ObserveOutboxPending, description: "Outbox messages not yet dispatched.");
        meter.CreateObservableGauge("satsub_payouts", ObservePayouts, description: "Payouts by state (count of rows in each state).");
        meter.CreateObservableGauge("satsub_payout_sats", ObservePayoutSats, description: "Satoshis of payouts by state.");
    }

    public void SaleSettled(string plan, string provider, long amountSats)
    {
        var tags = new TagList { { "plan", plan }, { "provider", provider } };
        sales.Add(1, tags);
        satsSettled.Add(amountSats, tags);
    }

    public void CommissionEarned(long amountSats)
    {
        commissions.Add(1);
        commissionSats.Add(amountSats);
    }

    public void WebhookVerificationFailed(string provider) =>
        webhookVerificationFailures.Add(1, new KeyValuePair<string, object?>("provider", provider));

    /// <summary>For the Telegram sender: one call per Bot API request; <paramref name="outcome"/> is ok, error or rate_limited.</summary>
    public void TelegramSend(string method, string outcome)
    {
        telegramSends.Add(1, new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("outcome", outcome));
        if (outcome == "rate_limited") telegramRateLimited.Add(1, new KeyValuePair<string, object?>("method", method));
    }

    public void ReconciliationFinding(string outcome) =>
        reconciliationFindings.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    // Observable callbacks are synchronous: the Prometheus scrape runs them on its own thread, one small indexed
    // query each. A database that cannot be reached yields no measurement rather than a failed scrape.
    private IEnumerable<Measurement<double>> ObserveOutboxLag() => Query<double>(db =>
    {
        var oldest = db.OutboxMessages.AsNoTracking().Where(m => m.CompletedAt == null)
            .OrderBy(m => m.CreatedAt).Select(m => (DateTimeOffset?)m.CreatedAt).FirstOrDefault();
        var lag = oldest is { } t ? Math.Max(0, (clock.GetUtcNow() - t).TotalSeconds) : 0;
        return [new Measurement<double>(lag)];
    });

    private IEnumerable<Measurement<long>> ObserveOutboxPending() => Query<long>(db =>
        new[] { new Measurement<long>(db.OutboxMessages.AsNoTracking().LongCount(m => m.CompletedAt == null)) });

    private IEnumerable<Measurement<long>> ObservePayouts() => PayoutsByState((count, _) => count);

    private IEnumerable<Measurement<long>> ObservePayoutSats() => PayoutsByState((_, sats) => sats);

    private IEnumerable<Measurement<long>> PayoutsByState(Func<long, long, long> pick) => Query<long>(db =>
    {
        var rows = db.Payouts.AsNoTracking().GroupBy(p => p.Status)
            .Select(g => new { Status = g.Key, Count = g.LongCount(), Sats = g.Sum(p => p.AmountSats) }).ToList();
        // Every state is reported (0 when empty), so an alert on a state never sees the series vanish.
        return Enum.GetValues<PayoutStatus>().Select(s =>
        {
            var row = rows.FirstOrDefault(r => r.Status == s);
            return new Measurement<long>(pick(row?.Count ?? 0, row?.Sats ?? 0), new KeyValuePair<string, object?>("state", EnumNames.ToSnake(s)));
        }).ToList();
    });

    private IEnumerable<Measurement<T>> Query<T>(Func<SatsubDbContext, IEnumerable<Measurement<T>>> read) where T : struct
    {
        try
        {
            using var scope = scopes.CreateScope();
            return read(scope.ServiceProvider.GetRequiredService<SatsubDbContext>());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return [];
        }
    }
}
