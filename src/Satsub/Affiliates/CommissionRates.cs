using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Ledger;

namespace Satsub.Affiliates;

public readonly record struct CommissionRate(int Bps, string? TierName);

/// <summary>What tiers count: distinct paying referred customers and referred sales, over commissions not clawed back.</summary>
public readonly record struct AffiliateStanding(int PayingCustomers, long ReferredSalesSats);

/// <summary>
/// The rate a direct referrer earns on a sale: the base rate plus the bonus of the highest tier reached.
/// Tiers count only paying referred customers and referred sales, never sign-ups.
/// </summary>
public sealed class CommissionRates(IOptions<AffiliateOptions> options)
{
    public bool HasTiers => options.Value.Tiers.Count > 0;

    public async Task<CommissionRate> ForAsync(SatsubDbContext db, Guid affiliateId, CancellationToken ct)
    {
        var o = options.Value;
        if (o.Tiers.Count == 0) return new CommissionRate(o.BaseBps, null);
        var best = TierFor(await StandingAsync(db, affiliateId, ct));
        return best is null ? new CommissionRate(o.BaseBps, null) : new CommissionRate(o.BaseBps + best.BonusBps, best.Name);
    }

    public static async Task<AffiliateStanding> StandingAsync(SatsubDbContext db, Guid affiliateId, CancellationToken ct)
    {
        var earned = db.Commissions.Where(c => c.AffiliateId == affiliateId && c.State != CommissionState.ClawedBack && c.State != CommissionState.Reversed);
        var payingCustomers = await earned.Select(c => c.BuyerId).Distinct().CountAsync(ct);
        var referredSales = await earned.SumAsync(c => (long?)c.SaleSats, ct) ?? 0;
        return new AffiliateStanding(payingCustomers, referredSales);
    }

    /// <summary>The highest-bonus tier reached, or null.</summary>
    public AffiliateTier? TierFor(AffiliateStanding standing)
    {
        AffiliateTier? best = null;
        foreach (var tier in options.Value.Tiers)
        {
            if (Reached(tier, standing) && (best is null || tier.BonusBps > best.BonusBps)) best = tier;
        }
        return best;
    }

    /// <summary>The tier with the smallest bonus above the current one that is not reached yet (the nearest on ties), or null at the top.</summary>
    public AffiliateTier? NextTier(AffiliateStanding standing)
    {
        var current = TierFor(standing)?.BonusBps ?? 0;
        return options.Value.Tiers
            .Where(t => t.BonusBps > current && !Reached(t, standing))
            .OrderBy(t => t.BonusBps)
            .ThenBy(t => t.MinPayingCustomers is { } n ? (long)(n - standing.PayingCustomers) : t.MinReferredSalesSats!.Value - standing.ReferredSalesSats)
            .FirstOrDefault();
    }

    private static bool Reached(AffiliateTier tier, AffiliateStanding s) =>
        tier.MinPayingCustomers is { } n ? s.PayingCustomers >= n : s.ReferredSalesSats >= tier.MinReferredSalesSats;
}
