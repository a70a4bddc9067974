using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Operations;
using Satsub.Outbox;
using Satsub.Payments;
using Satsub.Subscriptions;

namespace Satsub.Refunds;

public sealed record RefundResult(Guid RefundId, Guid InvoiceId, Sats Amount, Sats CommissionReversed, bool ClawedBack, DateTimeOffset? SubscriptionExpiresAt, bool Replayed);

/// <summary>
/// Records the refund of a settled sale (the money goes back to the buyer outside Satsub, through the provider or
/// by hand). In one transaction: the refund row (unique per invoice), a reversing posting — never an edit of the
/// sale's — the subscription shortened by the period that sale bought, and the commission reversed: from
/// <c>pending</c> while held, otherwise from <c>available</c>, which may go negative and is then recovered from
/// future commissions; that case is flagged to the admin.
/// </summary>
public sealed class RefundService(SatsubDbContext db, TimeProvider clock, Microsoft.Extensions.Options.IOptions<Affiliates.AffiliateOptions> affiliateOptions,
    ILogger<RefundService> logger, Microsoft.Extensions.Options.IOptions<Affiliates.Rating.RatingOptions> rating)
{
    public async Task<RefundResult> RefundAsync(Guid invoiceId, string reason, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            db.ChangeTracker.Clear();
            try
            {
                return await RefundOnceAsync(invoiceId, reason, ct);
            }
            catch (Exception ex) when (attempt < 5 && DbErrors.IsRetryableConflict(ex))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10 * attempt), ct);
            }
        }
    }

    private async Task<RefundResult> RefundOnceAsync(Guid invoiceId, string reason, CancellationToken ct)
    {
        var existing = await db.Set<Refund>().AsNoTracking().SingleOrDefaultAsync(r => r.InvoiceId == invoiceId, ct);
        if (existing is not null)
            return new RefundResult(existing.Id, invoiceId, new Sats(existing.AmountSats), new Sats(existing.CommissionReversedSats), existing.ClawedBackFromAvailable, null, Replayed: true);

        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var invoice = await db.Invoices.SingleOrDefaultAsync(i => i.Id == invoiceId, ct)
            ?? throw new DomainException("invoice_not_found", "No such invoice.", 404);
        if (invoice.Status != InvoiceStatus.Settled || invoice.SettlementPostingId is not { } salePostingId)
            throw new DomainException("invoice_not_settled", "Only a settled invoice can be refunded.", 409);

        var refund = new Refund { Id = Guid.CreateVersion7(now), InvoiceId = invoiceId, AmountSats = invoice.AmountSats, Reason = reason, CreatedAt = now };
        db.Set<Refund>().Add(refund);

        // Reverse exactly what the sale posted, bucket by bucket, except that commission which already left
        // `pending` is taken back from `available` (the clawback).
        var sale = await db.LedgerEntries.AsNoTracking().Where(e => e.PostingId == salePostingId).ToListAsync(ct);
        var commission = await db.Commissions.SingleOrDefaultAsync(c => c.InvoiceId == invoiceId, ct);
        var clawback = false;
        var amounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var e in sale)
        {
            var account = e.Account;
            var isCommission = commission is not null
                && (account == Accounts.AffiliatePending(commission.AffiliateId) || account == Accounts.AffiliateAvailable(commission.AffiliateId));
            if (isCommission && commission!.State == CommissionState.Reversed)
            {
                // The admin already moved this commission to the owner after review: the owner gives it back.
                account = Accounts.OwnerRevenue;
            }
            else if (isCommission && !(commission!.State is CommissionState.Pending or CommissionState.HeldForReview
                         && account == Accounts.AffiliatePending(commission.AffiliateId)))
            {
                // Released (or never held, with Affiliate:HoldDays = 0): the affiliate could already withdraw it.
                account = Accounts.AffiliateAvailable(commission.AffiliateId);
                clawback = true;
            }
            else if (account == Accounts.CustomerPayments && invoice.Provider == Affiliates.PayWithEarnings.ProviderName)
            {
                // Paid with earnings: the refund goes back to the buyer's own available balance, not out of Satsub.
                account = Accounts.AffiliateAvailable(invoice.UserId);
            }
            amounts[account] = amounts.GetValueOrDefault(account) - e.AmountSats;
        }
        var entries = amounts.Where(kv => kv.Value != 0).Select(kv => (kv.Key, new Sats(kv.Value))).ToList();
        var posting = LedgerBook.Post(db, $"refund:{invoiceId:D}", "refund", now, entries, invoiceId);
        refund.PostingId = posting.Id;
        // A commission the admin reversed after review is no longer the affiliate's: the refund takes nothing from them.
        var wasReversed = commission?.State == CommissionState.Reversed;
        if (commission is not null && !wasReversed)
        {
            refund.CommissionReversedSats = commission.AmountSats;
            refund.ClawedBackFromAvailable = clawback;
            commission.State = CommissionState.ClawedBack;
        }

        // Take back the period this sale bought.
        var subscription = await db.Subscriptions.SingleAsync(s => s.Id == invoice.SubscriptionId, ct);
        var period = (invoice.PeriodEnd - invoice.PeriodStart) ?? TimeSpan.FromDays(invoice.DurationDays);
        var expired = subscription.Shorten(period, now);

        QueueAndFlag(invoice, wasReversed ? null : commission, clawback, subscription, expired, now);
        await db.SaveChangesAsync(ct);
        // The sale no longer counts for the affiliate's standing (after the subscription's lock, in settlement's lock order).
        if (commission is not null && !wasReversed)
        {
            await Affiliates.Standings.AffiliateStandings.OnUncountedAsync(db, Affiliates.Standings.ScoreWeights.From(rating.Value),
                commission.AffiliateId, commission.BuyerId, commission.SaleSats, commission.CreatedAt, ct);
        }
        if (clawback)
        {
            await AdminFlags.RaiseAsync(db, "commission_clawback", $"clawback:{invoiceId:D}", $"affiliate {commission!.AffiliateId:D}",
                $"Invoice {invoiceId:D} was refunded after its commission of {commission.AmountSats} sats became available; " +
                "the affiliate's available balance is reduced and may be negative until future commissions cover it.", now, ct);
        }
        if (commission is not null)
            await Affiliates.FraudGuards.CheckRefundRateAsync(db, affiliateOptions.Value, commission.AffiliateId, now, ct);
        await tx.CommitAsync(ct);
        logger.LogInformation("Refunded invoice {InvoiceId}: {Amount} sats, commission reversed {Commission} (clawback: {Clawback})",
            invoiceId, invoice.AmountSats, refund.CommissionReversedSats, clawback);
        return new RefundResult(refund.Id, invoiceId, invoice.Amount, new Sats(refund.CommissionReversedSats), clawback, subscription.ExpiresAt, Replayed: false);
    }

    private void QueueAndFlag(Invoice invoice, Commission? commission, bool clawback, Subscription subscription, bool expired, DateTimeOffset now)
    {
        if (expired)
        {
            OutboxWriter.Enqueue(db, "subscription.expired", $"subscription.expired:refund:{invoice.Id:D}", new
            {
                SubscriptionId = subscription.Id.ToString("D"),
                UserId = subscription.UserId.ToString("D"),
                Plan = subscription.PlanCode,
                Reason = "refund",
            }, now);
        }
        if (commission is not null && commission.AmountSats > 0)
        {
            OutboxWriter.Enqueue(db, "commission.reversed", $"commission.reversed:{invoice.Id:D}", new
            {
                AffiliateId = commission.AffiliateId.ToString("D"),
                commission.AmountSats,
                InvoiceId = invoice.Id.ToString("D"),
                Clawback = clawback,
            }, now);
        }
    }
}
