using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates;
using Satsub.Affiliates.Rating;
using Satsub.Refunds;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Affiliates;

public sealed class TieredSqliteFixture() : DatabaseFixture(DbKind.Sqlite)
{
    protected override IDictionary<string, string?> Settings => TieredPostgresFixture.Tiers;
}

public sealed class TieredPostgresFixture() : DatabaseFixture(DbKind.Postgres)
{
    public static readonly Dictionary<string, string?> Tiers = new()
    {
        ["Affiliate:Tiers:0:Name"] = "Silver",
        ["Affiliate:Tiers:0:MinPayingCustomers"] = "2",
        ["Affiliate:Tiers:0:BonusBps"] = "500",
    };

    protected override IDictionary<string, string?> Settings => Tiers;
}

public sealed class LeaderboardServiceTests_Sqlite(TieredSqliteFixture fx) : LeaderboardServiceTests<TieredSqliteFixture>(fx);

public sealed class LeaderboardServiceTests_Postgres(TieredPostgresFixture fx) : LeaderboardServiceTests<TieredPostgresFixture>(fx);

/// <summary>The rating's grouped query and the tier-up event on both databases (SQLite is the embedded default).</summary>
public abstract class LeaderboardServiceTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    [Fact]
    public async Task Score_CountsCustomersSalesAndRenewals_NotClawedBackSales()
    {
        var affiliate = await App.RegisterAsync();
        var a = await App.RegisterAsync(affiliate.ReferralCode);
        var b = await App.RegisterAsync(affiliate.ReferralCode);
        await App.RegisterAsync(affiliate.ReferralCode); // never pays
        await App.SettleAsync((await App.BuyAsync(a.Id)).Id);
        await App.SettleAsync((await App.BuyAsync(a.Id, "premium")).Id);
        var refunded = await App.SettleAsync((await App.BuyAsync(b.Id)).Id);

        var before = await App.WithAsync<Leaderboard, Standing?>(l => l.OfAsync(affiliate.Id, LeaderboardPeriod.All, default));
        Assert.NotNull(before);
        Assert.Equal((2, 45_001L, 1), (before.PayingCustomers, before.ReferredSalesSats, before.Renewals));
        Assert.Equal(2 * 100 + 0 * 10 + 1 * 20, before.Score);

        await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(refunded.InvoiceId, "test", default));
        var after = await App.WithAsync<Leaderboard, Standing?>(l => l.OfAsync(affiliate.Id, LeaderboardPeriod.All, default));
        Assert.Equal((1, 35_001L, 1, 120L), (after!.PayingCustomers, after.ReferredSalesSats, after.Renewals, after.Score));
        var top = await App.WithAsync<Leaderboard, IReadOnlyList<Standing>>(l => l.TopAsync(LeaderboardPeriod.Month, 100, default));
        Assert.Contains(top, s => s.AffiliateId == affiliate.Id && s.DisplayName == Pseudonyms.Affiliate(affiliate.Id));
    }

    [Fact]
    public async Task TierUp_IsQueuedInTheSettlementOnce()
    {
        var affiliate = await App.RegisterAsync();
        var first = await App.RegisterAsync(affiliate.ReferralCode);
        var second = await App.RegisterAsync(affiliate.ReferralCode);
        await App.SettleAsync((await App.BuyAsync(first.Id)).Id);
        var key = $"{TierUps.EventType}:{affiliate.Id:D}:Silver";
        Assert.Equal(0, await App.DbAsync(db => db.OutboxMessages.CountAsync(m => m.DedupeKey == key)));

        await App.SettleAsync((await App.BuyAsync(second.Id)).Id);
        await App.SettleAsync((await App.BuyAsync(second.Id)).Id);

        Assert.Equal(1, await App.DbAsync(db => db.OutboxMessages.CountAsync(m => m.Type == TierUps.EventType && m.DedupeKey.Contains(affiliate.Id.ToString()))));
    }
}
