using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates.Rating;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Operations;
using Satsub.Payouts;
using Satsub.Plans;
using Satsub.Subscriptions;
using Satsub.Transparency;

namespace Satsub.Dashboard;

public sealed record DayPoint(DateOnly Day, int Sales, long SalesSats, long OwnerSats, long AffiliateSats);

public sealed record TopAffiliate(Guid UserId, string Name, string? Username, int Sales, long CommissionSats);

public sealed record PendingPayout(Guid Id, Guid UserId, string? Username, long AmountSats, string DestinationType, PayoutStatus Status, DateTimeOffset RequestedAt);

public sealed record DashboardView(
    TransparencyTotals Totals,
    int Users,
    int ActiveSubscriptions,
    int Sales30Days,
    long SalesSats30Days,
    IReadOnlyList<DayPoint> Days,
    IReadOnlyList<TopAffiliate> TopAffiliates,
    IReadOnlyList<PendingPayout> Payouts,
    IReadOnlyList<AdminFlag> Flags,
    IReadOnlyList<Plan> Plans,
    DateTimeOffset AsOf);

/// <summary>What the owner's dashboard shows, read in one scope.</summary>
public sealed class DashboardData(SatsubDbContext db, TransparencySummary summary, TimeProvider clock)
{
    public const int Days = 30;

    public async Task<DashboardView> GetAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var firstDay = today.AddDays(-(Days - 1));
        var from = new DateTimeOffset(firstDay.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var sums = new (int Sales, long Sats, long Owner, long Affiliate)[Days];
        var recentCount = 0;
        long recentSats = 0;
        // Streamed page by page and summed: thirty days of postings are never held at once.
        await foreach (var r in ReportBuilder.StreamAsync(db, from, now.AddTicks(1), ct))
        {
            if (r.Type == ReportRow.Sale && r.Time >= now.AddDays(-Days))
            {
                recentCount++;
                recentSats += r.AmountSats;
            }
            if (r.Type is not (ReportRow.Sale or ReportRow.Refund)) continue;
            var i = DateOnly.FromDateTime(r.Time.UtcDateTime).DayNumber - firstDay.DayNumber;
            sums[i] = (sums[i].Sales + (r.Type == ReportRow.Sale ? 1 : 0), sums[i].Sats + r.AmountSats, sums[i].Owner + r.OwnerShareSats,
                sums[i].Affiliate + r.AffiliateShareSats);
        }
        var days = new List<DayPoint>(Days);
        for (var i = 0; i < Days; i++)
            days.Add(new DayPoint(firstDay.AddDays(i), sums[i].Sales, sums[i].Sats, sums[i].Owner, sums[i].Affiliate));

        var top = await db.Commissions.AsNoTracking().Where(c => c.State != CommissionState.ClawedBack)
            .GroupBy(c => c.AffiliateId)
            .Select(g => new { AffiliateId = g.Key, Sales = g.Count(), Sats = g.Sum(c => c.AmountSats) })
            .OrderByDescending(x => x.Sats).ThenBy(x => x.AffiliateId).Take(10).ToListAsync(ct);
        var topIds = top.Select(t => t.AffiliateId).ToList();
        var names = await db.Users.AsNoTracking().Where(u => topIds.Contains(u.Id)).Select(u => new { u.Id, u.DisplayName, u.Username }).ToDictionaryAsync(u => u.Id, ct);

        var open = await db.Payouts.AsNoTracking().Where(p => p.Status == PayoutStatus.Requested || p.Status == PayoutStatus.Approved)
            .OrderBy(p => p.RequestedAt).Take(100).ToListAsync(ct);
        var payoutUsers = open.Select(p => p.UserId).Distinct().ToList();
        var usernames = await db.Users.AsNoTracking().Where(u => payoutUsers.Contains(u.Id)).Select(u => new { u.Id, u.Username }).ToDictionaryAsync(u => u.Id, u => u.Username, ct);

        return new DashboardView(
            await summary.TotalsAsync(ct),
            await db.Users.CountAsync(ct),
            await db.Subscriptions.CountAsync(s => s.Status == SubscriptionStatus.Active && s.ExpiresAt > now, ct),
            recentCount,
            recentSats,
            days,
            top.Select(t => new TopAffiliate(t.AffiliateId, Leaderboard.DisplayName(t.AffiliateId, names.GetValueOrDefault(t.AffiliateId)?.DisplayName),
                names.GetValueOrDefault(t.AffiliateId)?.Username, t.Sales, t.Sats)).ToList(),
            open.Select(p => new PendingPayout(p.Id, p.UserId, usernames.GetValueOrDefault(p.UserId), p.AmountSats, p.DestinationType, p.Status, p.RequestedAt)).ToList(),
            await db.AdminFlags.AsNoTracking().Where(f => f.ResolvedAt == null).OrderByDescending(f => f.CreatedAt).Take(50).ToListAsync(ct),
            await db.Plans.AsNoTracking().OrderBy(p => p.Code).ToListAsync(ct),
            now);
    }
}
