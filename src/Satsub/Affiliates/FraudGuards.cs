using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Operations;
using Satsub.Payments;
using Satsub.Users;

namespace Satsub.Affiliates;

/// <summary>
/// The fraud guards that look at one sale or one affiliate. Each raises an <see cref="AdminFlag"/> with its reason;
/// none drops a sale or a buyer.
/// </summary>
public static class FraudGuards
{
    public const string CommissionHeldFlag = "commission_held_for_review";
    public const string RefundRateFlag = "affiliate_refund_rate";
    public const string ReferralVelocityFlag = "referral_velocity";

    /// <summary>
    /// Why the commission on this sale should wait for the admin, or null: buyer and referrer share a Telegram id
    /// (the same external id, one of them on Telegram), a payout destination (saved or paid to), or a paying wallet.
    /// The payment providers name no payer (Lightning hides the payer; BTCPay, BitPay and OpenNode report the
    /// receiving address, not the sender's), so the buyer's wallet Satsub knows is the refund address given at purchase.
    /// </summary>
    public static async Task<string?> SharedIdentityAsync(SatsubDbContext db, User buyer, Guid referrerId, Invoice invoice, CancellationToken ct)
    {
        var referrer = await db.Users.AsNoTracking().SingleAsync(u => u.Id == referrerId, ct);
        if (buyer.ExternalId is not null && buyer.ExternalId == referrer.ExternalId && (buyer.Platform == "telegram" || referrer.Platform == "telegram"))
            return $"buyer {buyer.Id:D} and referrer {referrerId:D} share the Telegram id {buyer.ExternalId}";

        var referrerWallets = await WalletsAsync(db, referrer, ct);
        var buyerWallets = await WalletsAsync(db, buyer, ct);
        var sharedDestination = buyerWallets.Intersect(referrerWallets, StringComparer.Ordinal).FirstOrDefault();
        if (sharedDestination is not null)
            return $"buyer {buyer.Id:D} and referrer {referrerId:D} share the payout destination {sharedDestination}";

        if (Normalize(invoice.RefundAddress) is { } paidFrom)
        {
            if (referrerWallets.Contains(paidFrom))
                return $"the buyer's wallet {paidFrom} (refund address of invoice {invoice.Id:D}) is a payout destination of referrer {referrerId:D}";
            var referrerPaidFrom = await db.Invoices.AsNoTracking()
                .AnyAsync(i => i.UserId == referrerId && i.RefundAddress != null && i.RefundAddress.ToLower() == paidFrom, ct);
            if (referrerPaidFrom)
                return $"buyer {buyer.Id:D} and referrer {referrerId:D} pay from the same wallet {paidFrom} (refund address)";
        }
        return null;
    }

    /// <summary>A user's saved payout destination and every destination they were paid to, normalized.</summary>
    private static async Task<HashSet<string>> WalletsAsync(SatsubDbContext db, User user, CancellationToken ct)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (Normalize(user.PayoutDestination) is { } saved) set.Add(saved);
        var paidTo = await db.Payouts.AsNoTracking().Where(p => p.UserId == user.Id).Select(p => p.Destination).Distinct().ToListAsync(ct);
        foreach (var d in paidTo)
            if (Normalize(d) is { } n) set.Add(n);
        return set;
    }

    // Lightning Addresses, bech32 addresses and BOLT11 are case-insensitive; legacy base58 addresses are not, but two
    // base58 addresses that differ only by case are not both valid, so lower-casing never merges two wallets.
    private static string? Normalize(string? destination) =>
        string.IsNullOrWhiteSpace(destination) ? null : destination.Trim().ToLowerInvariant();

    /// <summary>
    /// Flags an affiliate whose referred sales are refunded at more than <c>Affiliate:RefundRateFlagBps</c>, once they
    /// have <c>Affiliate:RefundRateMinSales</c> referred sales. Raised once per affiliate (the admin resolves it).
    /// </summary>
    public static async Task CheckRefundRateAsync(SatsubDbContext db, AffiliateOptions options, Guid affiliateId, DateTimeOffset now, CancellationToken ct)
    {
        var sales = await db.Commissions.CountAsync(c => c.AffiliateId == affiliateId, ct);
        if (sales < options.RefundRateMinSales) return;
        var refunded = await db.Commissions.CountAsync(c => c.AffiliateId == affiliateId
            && db.Refunds.Any(r => r.InvoiceId == c.InvoiceId), ct);
        // Integer comparison: refunded / sales > bps / 10000.
        if ((long)refunded * 10_000 <= (long)options.RefundRateFlagBps * sales) return;
        await AdminFlags.RaiseAsync(db, RefundRateFlag, $"refund-rate:{affiliateId:D}", $"affiliate {affiliateId:D}",
            string.Create(CultureInfo.InvariantCulture,
                $"{refunded} of {sales} referred sales were refunded ({refunded * 100.0 / sales:0.#}%), above Affiliate:RefundRateFlagBps {options.RefundRateFlagBps} bps."),
            now, ct);
    }
}
