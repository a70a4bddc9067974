using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates;
using Satsub.Ledger;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Affiliates;

public sealed class HoldReleaseTests_Sqlite(SqliteFixture fx) : HoldReleaseTests<SqliteFixture>(fx);

public sealed class HoldReleaseTests_Postgres(PostgresFixture fx) : HoldReleaseTests<PostgresFixture>(fx);

public abstract class HoldReleaseTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    [Fact]
    public async Task Commission_BecomesAvailableWhenTheHoldEnds_OnceEvenWhenReleasedConcurrently()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        var sale = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);

        App.Clock.Advance(TimeSpan.FromDays(7) - TimeSpan.FromMinutes(1));
        await App.WithAsync<HoldRelease, int>(h => h.ReleaseDueAsync(default));
        Assert.Equal(5000, (await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);

        App.Clock.Advance(TimeSpan.FromMinutes(1));
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => App.WithAsync<HoldRelease, int>(h => h.ReleaseDueAsync(default)))));

        var balance = await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default));
        Assert.Equal((0L, 5000L), (balance.Pending.Value, balance.Available.Value));
        Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.Kind == "hold_release" && p.InvoiceId == sale.InvoiceId)));
        Assert.Equal(1, await App.DbAsync(db => db.OutboxMessages.CountAsync(m => m.Type == "commission.available" && m.Payload.Contains(referrer.Id.ToString()))));
    }
}
