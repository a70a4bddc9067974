using Microsoft.EntityFrameworkCore;
using Satsub.Ledger;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Settlement;

public sealed class NoHoldFixture() : DatabaseFixture(DbKind.Sqlite)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Affiliate:HoldDays"] = "0", ["Affiliate:BaseBps"] = "3000" };
}

public sealed class HoldPeriodTests(NoHoldFixture fx) : IClassFixture<NoHoldFixture>
{
    [Fact]
    public async Task Settle_WithHoldDaysZero_MakesTheCommissionAvailableAtOnceAtTheConfiguredRate()
    {
        var referrer = await fx.App.RegisterAsync();
        var buyer = await fx.App.RegisterAsync(referrer.ReferralCode);

        var result = await fx.App.SettleAsync((await fx.App.BuyAsync(buyer.Id)).Id);

        Assert.Equal(3000, result.AffiliateShare.Value);
        var balance = await fx.App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default));
        Assert.Equal(0, balance.Pending.Value);
        Assert.Equal(3000, balance.Available.Value);
        Assert.Equal(CommissionState.Available, (await fx.App.DbAsync(db => db.Commissions.SingleAsync(c => c.AffiliateId == referrer.Id))).State);
    }
}
