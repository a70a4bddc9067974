using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Affiliates.Rating;
using Satsub.Affiliates.Standings;
using Satsub.Data;

namespace Satsub.Affiliates;

public readonly record struct CommissionRate(int Bps, string? TierName);

/// <summary>What tiers count: distinct paying referred customers and referred sales, over commissions not clawed back.</summary>
public readonly record struct AffiliateStanding(int PayingCustomers, long ReferredSalesSats);

/// <summary>
/// The rate a direct referrer earns on a sale: the base rate plus the bonus of the highest tier reached.
/// Tiers count only paying referred customers and referred sales, never sign-ups.
/// </summary>
public sealed class CommissionRates(IOptions<AffiliateOptions> options, IOptions<RatingOptions> rating)
{
    public bool HasTiers => options.Value.Tiers.Count > 0;

    /// <summary>The rating's weights, which the standings' writers apply to the score in the same transaction.</summary>
    public ScoreWeights Weights => ScoreWeights.From(rating.Value);

    public async Task<CommissionRate> ForAsync(SatsubDbContext db, Guid affiliateId, CancellationToken ct)
    {
        var o = options.Value;
        if (o.Tiers.Count == 0) return new CommissionRate(o.BaseBps, null);
        var best = TierFor(await StandingAsync(db, affiliateId, ct));
        return best is null ? new CommissionRate(o.BaseBps, null) : new CommissionRate(o.BaseBps + best.BonusBps, best.Name);
    }

    /// <summary>From the precomputed standing (one key lookup), which the sale's own transaction already updated.</summary>
    public static async Task<AffiliateStanding> StandingAsync(SatsubDbContext db, Guid affiliateId, CancellationToken ct)
    {
        var row = await db.Set<AffiliateStandingRow>().AsNoTracking().Where(s => s.AffiliateId == affiliateId)
            .Select(s => new { s.PayingCustomers, s.ReferredSalesSats }).FirstOrDefaultAsync(ct);
        return row is null ? default : new AffiliateStanding(row.PayingCustomers, row.ReferredSalesSats);
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
