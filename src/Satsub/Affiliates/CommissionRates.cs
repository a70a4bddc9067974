using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Ledger;

namespace Satsub.Affiliates;

public readonly record struct CommissionRate(int Bps, string? TierName);

/// <summary>
/// The rate a direct referrer earns on a sale: the base rate plus the bonus of the highest tier reached.
/// Tiers count only paying referred customers and referred sales, never sign-ups.
/// </summary>
public sealed class CommissionRates(IOptions<AffiliateOptions> options)
{
    public async Task<CommissionRate> ForAsync(SatsubDbContext db, Guid affiliateId, CancellationToken ct)
    {
        var o = options.Value;
        if (o.Tiers.Count == 0) return new CommissionRate(o.BaseBps, null);

        var earned = db.Commissions.Where(c => c.AffiliateId == affiliateId && c.State != CommissionState.ClawedBack);
        var payingCustomers = await earned.Select(c => c.BuyerId).Distinct().CountAsync(ct);
        var referredSales = await earned.SumAsync(c => (long?)c.SaleSats, ct) ?? 0;

        AffiliateTier? best = null;
        foreach (var tier in o.Tiers)
        {
            var reached = tier.MinPayingCustomers is { } n ? payingCustomers >= n : referredSales >= tier.MinReferredSalesSats;
            if (reached && (best is null || tier.BonusBps > best.BonusBps)) best = tier;
        }
        return best is null ? new CommissionRate(o.BaseBps, null) : new CommissionRate(o.BaseBps + best.BonusBps, best.Name);
    }
}
