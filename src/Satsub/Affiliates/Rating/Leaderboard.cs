using Satsub.Affiliates.Standings;
using Satsub.Data;

namespace Satsub.Affiliates.Rating;

public enum LeaderboardPeriod
{
    All,
    Month,
}

/// <summary>One affiliate's place on the leaderboard. Ties on score share a rank (1, 2, 2, 4).</summary>
public sealed record Standing(Guid AffiliateId, int Rank, string DisplayName, long Score, int PayingCustomers, long ReferredSalesSats, int Renewals);

/// <summary>
/// The rating: <c>score = PayingCustomers·customers + ReferredSalesPer100kSats·⌊sales·/100k⌋ + Renewals·renewals</c>,
/// over the commissions of the period that were not clawed back or reversed — sales, so never sign-ups — and only for an
/// affiliate's direct referrals (a commission row exists for the direct referrer alone). Users who hide
/// themselves and erased users are left out. Read from the precomputed standings (<see cref="AffiliateStandings"/>):
/// the top N is an index read, one affiliate's place a stored place plus the rows changed since the rank job ran.
/// </summary>
public sealed class Leaderboard(SatsubDbContext db, TimeProvider clock)
{
    /// <summary>The first <paramref name="limit"/> places.</summary>
    public async Task<IReadOnlyList<Standing>> TopAsync(LeaderboardPeriod period, int limit, CancellationToken ct)
    {
        var rows = await AffiliateStandings.TopAsync(db, Month(period), limit, ct);
        var result = new List<Standing>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            // Sorted by score first, so a tie's rank is the place of the first row with that score.
            var rank = i > 0 && rows[i].Score == rows[i - 1].Score ? result[i - 1].Rank : i + 1;
            result.Add(ToStanding(rows[i], rank));
        }
        return result;
    }

    /// <summary>One affiliate's place, or null when they have no sales in the period or are hidden.</summary>
    public async Task<Standing?> OfAsync(Guid affiliateId, LeaderboardPeriod period, CancellationToken ct)
    {
        var row = await AffiliateStandings.OfAsync(db, affiliateId, Month(period), ct);
        return row?.Rank is { } rank ? ToStanding(row, (int)rank) : null;
    }

    /// <summary>The period's bounds: the current calendar month in UTC, or everything.</summary>
    public (DateTimeOffset From, DateTimeOffset To)? Bounds(LeaderboardPeriod period)
    {
        if (period == LeaderboardPeriod.All) return null;
        var now = clock.GetUtcNow().UtcDateTime;
        var from = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        return (from, from.AddMonths(1));
    }

    private int? Month(LeaderboardPeriod period) => period == LeaderboardPeriod.All ? null : AffiliateStandings.MonthOf(clock.GetUtcNow());

    private static Standing ToStanding(AffiliateStandings.BoardRow r, int rank) =>
        new(r.AffiliateId, rank, DisplayName(r.AffiliateId, r.DisplayName), r.Score, r.PayingCustomers, r.ReferredSalesSats, r.Sales - r.PayingCustomers);

    /// <summary>The chosen display name, or the stable pseudonym: never the username.</summary>
    public static string DisplayName(Guid userId, string? chosen) => chosen ?? Pseudonyms.Affiliate(userId);
}
