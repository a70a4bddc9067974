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
    /// Why the commission on a sale should wait for the admin: buyer and referrer share a Telegram id (the same
    /// external id, one of them on Telegram), a payout destination (saved or paid to), or a paying wallet. The payment
    /// providers name no payer (Lightning hides the payer; BTCPay, BitPay and OpenNode report the receiving address,
    /// not the sender's), so the buyer's wallet Satsub knows is the refund address given at purchase. The people of a
    /// batch of sales are loaded at once (two queries whatever the number of sales).
    /// </summary>
    public sealed class SharedIdentityCheck
    {
        private readonly Dictionary<Guid, User> _referrers;
        private readonly Dictionary<Guid, HashSet<string>> _paidTo;

        private SharedIdentityCheck(Dictionary<Guid, User> referrers, Dictionary<Guid, HashSet<string>> paidTo)
        {
            _referrers = referrers;
            _paidTo = paidTo;
        }

        public static async Task<SharedIdentityCheck> LoadAsync(SatsubDbContext db, IReadOnlyCollection<(User Buyer, Guid ReferrerId)> sales, CancellationToken ct)
        {
            var referrerIds = sales.Select(s => s.ReferrerId).Distinct().ToList();
            var referrers = await db.Users.AsNoTracking().Where(u => referrerIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, ct);
            var people = referrerIds.Concat(sales.Select(s => s.Buyer.Id)).Distinct().ToList();
            var paid = await db.Payouts.AsNoTracking().Where(p => people.Contains(p.UserId)).Select(p => new { p.UserId, p.Destination }).Distinct().ToListAsync(ct);
            var paidTo = new Dictionary<Guid, HashSet<string>>();
            foreach (var p in paid)
            {
                if (Normalize(p.Destination) is not { } n) continue;
                if (!paidTo.TryGetValue(p.UserId, out var set)) paidTo[p.UserId] = set = new HashSet<string>(StringComparer.Ordinal);
                set.Add(n);
            }
            return new SharedIdentityCheck(referrers, paidTo);
        }

        /// <summary>The reason to hold this sale's commission, or null.</summary>
        public async Task<string?> ReasonAsync(SatsubDbContext db, User buyer, Guid referrerId, Invoice invoice, CancellationToken ct)
        {
            var referrer = _referrers.GetValueOrDefault(referrerId)
                ?? throw new InvalidOperationException($"Referrer {referrerId:D} of buyer {buyer.Id:D} does not exist.");
            if (buyer.ExternalId is not null && buyer.ExternalId == referrer.ExternalId && (buyer.Platform == "telegram" || referrer.Platform == "telegram"))
                return $"buyer {buyer.Id:D} and referrer {referrerId:D} share the Telegram id {buyer.ExternalId}";

            var referrerWallets = Wallets(referrer);
            var buyerWallets = Wallets(buyer);
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
        private HashSet<string> Wallets(User user)
        {
            var set = new HashSet<string>(StringComparer.Ordinal);
            if (Normalize(user.PayoutDestination) is { } saved) set.Add(saved);
            if (_paidTo.TryGetValue(user.Id, out var paid)) set.UnionWith(paid);
            return set;
        }
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
