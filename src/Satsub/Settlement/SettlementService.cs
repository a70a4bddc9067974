using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Affiliates;
using Satsub.Affiliates.Standings;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Outbox;
using Satsub.Payments;
using Satsub.Subscriptions;
using Satsub.Users;

namespace Satsub.Settlement;

/// <summary>The provider's word that an invoice is paid: which provider, and the natural id of its notification.</summary>
public sealed record PaymentEvidence(string Provider, string EventId, string Kind = "settled");

/// <summary>What a settlement did. Settling again returns the same figures with <see cref="Replayed"/> set.</summary>
public sealed record SettlementResult(
    Guid InvoiceId,
    Guid SubscriptionId,
    Guid PostingId,
    DateTimeOffset SettledAt,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    Sats Sale,
    Sats OwnerShare,
    Sats AffiliateShare,
    Guid? AffiliateId,
    bool Replayed);

public sealed class UnknownInvoiceException(Guid invoiceId) : Exception($"Invoice {invoiceId} does not exist.")
{
    public Guid InvoiceId { get; } = invoiceId;
}

public sealed class SettlementRefusedException(string message) : Exception(message);

/// <summary>
/// Settles a paid invoice: in one transaction it marks the invoice settled, activates or extends the
/// subscription, posts the split to the ledger and queues the notifications. Exactly once: the invoice row
/// is claimed with a conditional update, so a second settlement (sequential or concurrent, from any
/// connection) finds it settled and returns the first result; the posting's unique idempotency key and
/// the outbox's unique dedupe keys make a double booking impossible even if that guard were bypassed.
/// </summary>
public sealed class SettlementService(
    SatsubDbContext db,
    CommissionRates rates,
    IOptions<AffiliateOptions> affiliateOptions,
    TimeProvider clock,
    ILogger<SettlementService> logger,
    Operations.SatsubMetrics metrics)
{
    private const int MaxAttempts = 8;

    /// <param name="inSameTransaction">Runs inside the settlement's transaction, whether it settles or replays —
    /// for example to store a watcher's resume cursor atomically with the settlement it led to.</param>
    public async Task<SettlementResult> SettleAsync(Guid invoiceId, PaymentEvidence evidence, CancellationToken ct = default,
        Func<SatsubDbContext, CancellationToken, Task>? inSameTransaction = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            db.ChangeTracker.Clear();
            try
            {
                return await SettleOnceAsync(invoiceId, evidence, inSameTransaction, ct);
            }
            catch (Exception ex) when (attempt < MaxAttempts && DbErrors.IsRetryableConflict(ex))
            {
                // Another transaction settled or extended the same rows first: the next attempt sees its result.
                logger.LogDebug("Settlement of invoice {InvoiceId} conflicted (attempt {Attempt}); retrying", invoiceId, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * attempt)), ct);
            }
        }
    }

    private async Task<SettlementResult> SettleOnceAsync(Guid invoiceId, PaymentEvidence evidence,
        Func<SatsubDbContext, CancellationToken, Task>? inSameTransaction, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(ct);

        await RecordEventAsync(invoiceId, evidence, now, ct);

        // The claim: only one transaction can move the invoice to settled; the others wait on the row lock
        // (PostgreSQL) or the write lock (SQLite) and then update nothing.
        var claimed = await db.UpdateVersionedAsync(
            db.Invoices.Where(i => i.Id == invoiceId && i.Status != InvoiceStatus.Settled && i.Provider == evidence.Provider),
            s => s.SetProperty(i => i.Status, InvoiceStatus.Settled).SetProperty(i => i.SettledAt, now), ct);

        var invoice = await db.Invoices.SingleOrDefaultAsync(i => i.Id == invoiceId, ct)
            ?? throw new UnknownInvoiceException(invoiceId);

        if (claimed == 0)
        {
            if (!string.Equals(invoice.Provider, evidence.Provider, StringComparison.Ordinal))
                throw new SettlementRefusedException($"Invoice {invoiceId} belongs to provider '{invoice.Provider}', not '{evidence.Provider}'.");
            // Keep the record of this (duplicate) event; it changes nothing else.
            if (inSameTransaction is not null) await inSameTransaction(db, ct);
            await tx.CommitAsync(ct);
            return await ExistingResultAsync(invoice, ct);
        }

        // Several invoices of one subscription (renewals, duplicate purchases) may settle at once: on PostgreSQL
        // take the row lock first so they queue here instead of failing their optimistic check over and over.
        // SQLite already holds the database's write lock since the claim.
        if (db.IsPostgres)
            await db.Database.ExecuteSqlInterpolatedAsync($"SELECT 1 FROM subscriptions WHERE id = {invoice.SubscriptionId} FOR UPDATE", ct);
        var subscription = await db.Subscriptions.SingleAsync(s => s.Id == invoice.SubscriptionId, ct);
        var (from, to) = subscription.Extend(TimeSpan.FromDays(invoice.DurationDays), now);
        var renewal = subscription.StartsAt < from;

        var buyer = await db.Users.AsNoTracking().SingleAsync(u => u.Id == invoice.UserId, ct);
        CommissionRate? rate = buyer.ReferrerId is { } referrerId ? await rates.ForAsync(db, referrerId, ct) : null;
        var split = Split.Of(invoice.Amount, rate?.Bps);

        var holdDays = affiliateOptions.Value.HoldDays;
        // Fraud guard: a commission between people who look like one person waits for the admin, in `pending`.
        var reviewReason = buyer.ReferrerId is { } suspect && affiliateOptions.Value.HoldSharedIdentity
            ? await FraudGuards.SharedIdentityAsync(db, buyer, suspect, invoice, ct)
            : null;
        var entries = new List<(string, Sats)> { (Accounts.CustomerPayments, -split.Sale) };
        if (split.Owner > Sats.Zero) entries.Add((Accounts.OwnerRevenue, split.Owner));
        if (split.Affiliate > Sats.Zero)
        {
            var bucket = holdDays == 0 && reviewReason is null ? Accounts.AffiliateAvailable(buyer.ReferrerId!.Value) : Accounts.AffiliatePending(buyer.ReferrerId!.Value);
            entries.Add((bucket, split.Affiliate));
        }
        var posting = LedgerBook.Post(db, $"settle:{invoice.Provider}:{invoice.ProviderInvoiceId}", "sale", now, entries,
            invoice.Id, rate?.Bps, rate?.TierName);

        invoice.PeriodStart = from;
        invoice.PeriodEnd = to;
        invoice.SettlementPostingId = posting.Id;

        if (buyer.ReferrerId is { } affiliateId)
        {
            db.Commissions.Add(new Commission
            {
                Id = Guid.CreateVersion7(now),
                AffiliateId = affiliateId,
                BuyerId = buyer.Id,
                InvoiceId = invoice.Id,
                PlanCode = invoice.PlanCode,
                SaleSats = split.Sale.Value,
                RateBps = split.RateBps,
                TierName = rate?.TierName,
                AmountSats = split.Affiliate.Value,
                State = reviewReason is not null ? CommissionState.HeldForReview : holdDays == 0 ? CommissionState.Available : CommissionState.Pending,
                CreatedAt = now,
                AvailableAt = now.AddDays(holdDays),
                PostingId = posting.Id,
                ReviewReason = reviewReason,
            });
        }

        QueueEffects(invoice, subscription, split, buyer.ReferrerId, renewal, now);
        // The affiliate's precomputed standing (counts, score): one batch of upserts on that affiliate's own rows.
        if (buyer.ReferrerId is { } standingOf) await AffiliateStandings.OnSaleAsync(db, rates.Weights, standingOf, buyer.Id, split.Sale.Value, now, ct);
        await db.SaveChangesAsync(ct);
        if (reviewReason is not null)
        {
            await Operations.AdminFlags.RaiseAsync(db, FraudGuards.CommissionHeldFlag, $"commission-held:{invoice.Id:D}", $"affiliate {buyer.ReferrerId:D}",
                $"The commission of {split.Affiliate.Value} sats on invoice {invoice.Id:D} is held for review: {reviewReason}. " +
                "Release or reverse it with POST /api/v1/admin/commissions/{id}/release|reverse.", now, ct);
        }
        if (buyer.ReferrerId is { } referrer && rate is { } rateBefore)
            await TierUps.QueueIfRaisedAsync(db, rates, referrer, rateBefore, invoice.Id, now, ct);
        if (inSameTransaction is not null) await inSameTransaction(db, ct);
        await tx.CommitAsync(ct);
        metrics.SaleSettled(invoice.PlanCode, invoice.Provider, split.Sale.Value);
        if (split.Affiliate.Value > 0) metrics.CommissionEarned(split.Affiliate.Value);

        logger.LogInformation("Settled invoice {InvoiceId}: {Sale} sats, owner {Owner}, affiliate {Affiliate}",
            invoice.Id, split.Sale.Value, split.Owner.Value, split.Affiliate.Value);
        return new SettlementResult(invoice.Id, subscription.Id, posting.Id, now, from, to,
            split.Sale, split.Owner, split.Affiliate, buyer.ReferrerId, Replayed: false);
    }

    private async Task RecordEventAsync(Guid invoiceId, PaymentEvidence evidence, DateTimeOffset now, CancellationToken ct)
    {
        // INSERT … ON CONFLICT DO NOTHING (both SQLite and PostgreSQL): a duplicate delivery neither fails
        // the transaction nor adds a row.
        var at = db.Time(now);
        await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO payment_events (provider, event_id, invoice_id, kind, received_at, processed_at, outcome, attempts) " +
            "VALUES ({0}, {1}, {2}, {3}, {4}, {4}, 'settle', 1) ON CONFLICT (provider, event_id) DO NOTHING",
            [evidence.Provider, evidence.EventId, invoiceId, evidence.Kind, at], ct);
    }

    private void QueueEffects(Invoice invoice, Subscription subscription, SaleSplit split, Guid? affiliateId, bool renewal, DateTimeOffset now)
    {
        var id = invoice.Id.ToString("D");
        OutboxWriter.Enqueue(db, "payment.settled", $"payment.settled:{id}", new
        {
            InvoiceId = id,
            UserId = invoice.UserId.ToString("D"),
            SubscriptionId = subscription.Id.ToString("D"),
            Plan = invoice.PlanCode,
            invoice.Provider,
            AmountSats = split.Sale.Value,
            OwnerShareSats = split.Owner.Value,
            AffiliateShareSats = split.Affiliate.Value,
        }, now);
        var subscriptionEvent = renewal ? "subscription.renewed" : "subscription.activated";
        OutboxWriter.Enqueue(db, subscriptionEvent, $"{subscriptionEvent}:{id}", new
        {
            SubscriptionId = subscription.Id.ToString("D"),
            UserId = invoice.UserId.ToString("D"),
            Plan = invoice.PlanCode,
            subscription.StartsAt,
            subscription.ExpiresAt,
            InvoiceId = id,
        }, now);
        if (affiliateId is { } affiliate && split.Affiliate > Sats.Zero)
        {
            OutboxWriter.Enqueue(db, "commission.earned", $"commission.earned:{id}", new
            {
                AffiliateId = affiliate.ToString("D"),
                AmountSats = split.Affiliate.Value,
                RateBps = split.RateBps,
                InvoiceId = id,
                Plan = invoice.PlanCode,
            }, now);
        }
    }

    private async Task<SettlementResult> ExistingResultAsync(Invoice invoice, CancellationToken ct)
    {
        if (invoice.SettlementPostingId is not { } postingId || invoice.SettledAt is not { } settledAt)
            throw new InvalidOperationException($"Invoice {invoice.Id} is settled but has no settlement posting.");
        var commission = await db.Commissions.AsNoTracking().SingleOrDefaultAsync(c => c.InvoiceId == invoice.Id, ct);
        var sale = invoice.Amount;
        var affiliateShare = new Sats(commission?.AmountSats ?? 0);
        return new SettlementResult(invoice.Id, invoice.SubscriptionId, postingId, settledAt,
            invoice.PeriodStart!.Value, invoice.PeriodEnd!.Value, sale, sale - affiliateShare, affiliateShare,
            commission?.AffiliateId, Replayed: true);
    }
}
