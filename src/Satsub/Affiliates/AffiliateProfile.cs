using Satsub.Affiliates.Standings;
using Satsub.Data;
using Satsub.Users;

namespace Satsub.Affiliates;

/// <summary>The affiliate part of a user's profile: tier progress and leaderboard rank, from the precomputed standing.</summary>
public sealed class AffiliateProfile(SatsubDbContext db, CommissionRates rates)
{
    /// <summary>The tier reached and the next one; null when no tiers are configured.</summary>
    public async Task<TierView?> TierAsync(Guid userId, CancellationToken ct) =>
        Tier(await CommissionRates.StandingAsync(db, userId, ct));

    /// <summary>The tier reached and the next one for a standing already read; null when no tiers are configured.</summary>
    public TierView? Tier(AffiliateStanding standing)
    {
        if (!rates.HasTiers) return null;
        var current = rates.TierFor(standing);
        var next = rates.NextTier(standing) is { } n
            ? new NextTierView(n.Name,
                n.MinPayingCustomers is { } customers ? customers - standing.PayingCustomers : null,
                n.MinReferredSalesSats is { } sats ? sats - standing.ReferredSalesSats : null)
            : null;
        return new TierView(current?.Name, current?.BonusBps ?? 0, next);
    }

    /// <summary>The place on the all-time leaderboard; null without paying referrals or when hidden.</summary>
    public async Task<int?> RankAsync(User user, CancellationToken ct) =>
        user.HiddenFromLeaderboard ? null : (await AffiliateStandings.ProfileAsync(db, user.Id, ct)).Rank;
}
