using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Ledger;

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
/// over the commissions of the period that were not clawed back — sales, so never sign-ups — and only for an
/// affiliate's direct referrals (a commission row exists for the direct referrer alone). Users who hide
/// themselves and erased users are left out. Computed by one grouped query per call; a precomputed table can
/// replace it when the number of affiliates makes that worthwhile.
/// </summary>
public sealed class Leaderboard(SatsubDbContext db, IOptions<RatingOptions> options, TimeProvider clock)
{
    private sealed class Row
    {
        public Guid AffiliateId { get; init; }
        public int Sales { get; init; }
        public int PayingCustomers { get; init; }
        public long ReferredSalesSats { get; init; }
        public long Score { get; init; }
    }

    /// <summary>The first <paramref name="limit"/> places.</summary>
    public async Task<IReadOnlyList<Standing>> TopAsync(LeaderboardPeriod period, int limit, CancellationToken ct)
    {
        var rows = await Rows(period)
            .OrderByDescending(r => r.Score).ThenByDescending(r => r.PayingCustomers).ThenByDescending(r => r.ReferredSalesSats).ThenBy(r => r.AffiliateId)
            .Take(limit)
            .ToListAsync(ct);
        var names = await NamesAsync(rows.Select(r => r.AffiliateId).ToList(), ct);
        var result = new List<Standing>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            // Sorted by score first, so a tie's rank is the place of the first row with that score.
            var rank = i > 0 && rows[i].Score == rows[i - 1].Score ? result[i - 1].Rank : i + 1;
            result.Add(ToStanding(rows[i], rank, names));
        }
        return result;
    }

    /// <summary>One affiliate's place, or null when they have no sales in the period or are hidden.</summary>
    public async Task<Standing?> OfAsync(Guid affiliateId, LeaderboardPeriod period, CancellationToken ct)
    {
        var row = await Rows(period).Where(r => r.AffiliateId == affiliateId).SingleOrDefaultAsync(ct);
        if (row is null) return null;
        var higher = await Rows(period).CountAsync(r => r.Score > row.Score, ct);
        return ToStanding(row, higher + 1, await NamesAsync([affiliateId], ct));
    }

    /// <summary>The period's bounds: the current calendar month in UTC, or everything.</summary>
    public (DateTimeOffset From, DateTimeOffset To)? Bounds(LeaderboardPeriod period)
    {
        if (period == LeaderboardPeriod.All) return null;
        var now = clock.GetUtcNow().UtcDateTime;
        var from = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        return (from, from.AddMonths(1));
    }

    private IQueryable<Row> Rows(LeaderboardPeriod period)
    {
        long perCustomer = options.Value.PayingCustomers, per100k = options.Value.ReferredSalesPer100kSats, perRenewal = options.Value.Renewals;
        var sales = db.Commissions.AsNoTracking().Where(c => c.State != CommissionState.ClawedBack && c.State != CommissionState.Reversed);
        if (Bounds(period) is var (from, to)) sales = sales.Where(c => c.CreatedAt >= from && c.CreatedAt < to);
        sales = sales.Where(c => db.Users.Any(u => u.Id == c.AffiliateId && !u.HiddenFromLeaderboard && u.ErasedAt == null));
        return sales
            .GroupBy(c => c.AffiliateId)
            .Select(g => new
            {
                AffiliateId = g.Key,
                Sales = g.Count(),
                PayingCustomers = g.Select(c => c.BuyerId).Distinct().Count(),
                ReferredSalesSats = g.Sum(c => c.SaleSats),
            })
            .Select(r => new Row
            {
                AffiliateId = r.AffiliateId,
                Sales = r.Sales,
                PayingCustomers = r.PayingCustomers,
                ReferredSalesSats = r.ReferredSalesSats,
                Score = r.PayingCustomers * perCustomer + r.ReferredSalesSats / 100_000 * per100k + (r.Sales - r.PayingCustomers) * perRenewal,
            });
    }

    private async Task<Dictionary<Guid, string?>> NamesAsync(List<Guid> ids, CancellationToken ct) =>
        ids.Count == 0
            ? []
            : await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.DisplayName, ct);

    private static Standing ToStanding(Row r, int rank, Dictionary<Guid, string?> names) =>
        new(r.AffiliateId, rank, DisplayName(r.AffiliateId, names.GetValueOrDefault(r.AffiliateId)), r.Score, r.PayingCustomers,
            r.ReferredSalesSats, r.Sales - r.PayingCustomers);

    /// <summary>The chosen display name, or the stable pseudonym: never the username.</summary>
    public static string DisplayName(Guid userId, string? chosen) => chosen ?? Pseudonyms.Affiliate(userId);
}
