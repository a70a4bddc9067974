using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Refunds;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Refunds;

public sealed class RefundTests_Sqlite(SqliteFixture fx) : RefundTests<SqliteFixture>(fx);

public sealed class RefundTests_Postgres(PostgresFixture fx) : RefundTests<PostgresFixture>(fx);

public abstract class RefundTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    private Task<RefundResult> RefundAsync(Guid invoiceId) => App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(invoiceId, "test", default));

    private Task<AffiliateBalance> BalanceAsync(Guid userId) => App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, userId, default));

    [Fact]
    public async Task RefundInsideTheHold_ReversesTheCommissionFromPendingAndEndsTheSubscription()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        var sale = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        var ownerBefore = await App.DbAsync(db => LedgerBook.BalanceAsync(db, Accounts.OwnerRevenue, default));

        var refund = await RefundAsync(sale.InvoiceId);

        Assert.False(refund.ClawedBack);
        Assert.Equal(5000, refund.CommissionReversed.Value);
        Assert.Equal(new AffiliateBalance(Sats.Zero, Sats.Zero, Sats.Zero), await BalanceAsync(referrer.Id));
        Assert.Equal(ownerBefore - sale.OwnerShare, await App.DbAsync(db => LedgerBook.BalanceAsync(db, Accounts.OwnerRevenue, default)));
        var sub = await App.DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == sale.SubscriptionId));
        Assert.Equal(SubscriptionStatus.Expired, sub.Status);
        Assert.Equal(CommissionState.ClawedBack, (await App.DbAsync(db => db.Commissions.SingleAsync(c => c.InvoiceId == sale.InvoiceId))).State);
        // The sale's posting is untouched: the refund is a new posting.
        Assert.Equal(2, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == sale.InvoiceId)));
        Assert.Empty(await App.DbAsync(db => LedgerBook.UnbalancedPostingsAsync(db, default)));
    }

    [Fact]
    public async Task RefundAfterTheHold_ClawsBackFromAvailableWhichMayGoNegativeAndIsFlagged()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        var sale = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        App.Clock.Advance(TimeSpan.FromDays(8));
        await App.WithAsync<HoldRelease, int>(h => h.ReleaseDueAsync(default));
        Assert.Equal(5000, (await BalanceAsync(referrer.Id)).Available.Value);

        // The affiliate's available balance is spent elsewhere (simulated by moving it to paid), then the refund.
        await App.DbAsync(db =>
        {
            LedgerBook.Post(db, $"test-payout:{referrer.Id}", "test", App.Clock.GetUtcNow(),
                [(Accounts.AffiliateAvailable(referrer.Id), new Sats(-5000)), (Accounts.AffiliatePaid(referrer.Id), new Sats(5000))]);
            return db.SaveChangesAsync();
        });
        var refund = await RefundAsync(sale.InvoiceId);

        Assert.True(refund.ClawedBack);
        Assert.Equal(new AffiliateBalance(Sats.Zero, new Sats(-5000), new Sats(5000)), await BalanceAsync(referrer.Id));
        Assert.Equal(1, await App.DbAsync(db => db.AdminFlags.CountAsync(f => f.DedupeKey == $"clawback:{sale.InvoiceId:D}")));
    }

    [Fact]
    public async Task Refund_Twice_ChangesNothingTheSecondTime()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        var sale = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);

        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Task.Run(() => RefundAsync(sale.InvoiceId))));

        Assert.Single(results, r => !r.Replayed);
        Assert.Equal(1, await App.DbAsync(db => db.Refunds.CountAsync(r => r.InvoiceId == sale.InvoiceId)));
        Assert.Equal(0, (await BalanceAsync(referrer.Id)).Pending.Value);
    }

    [Fact]
    public async Task RefundOfARenewal_ShortensTheSubscriptionByThatPeriodOnly()
    {
        var buyer = await App.RegisterAsync();
        var first = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        var renewal = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        Assert.Equal(first.PeriodEnd.AddDays(30), renewal.PeriodEnd);

        var refund = await RefundAsync(renewal.InvoiceId);

        Assert.Equal(first.PeriodEnd, refund.SubscriptionExpiresAt);
        Assert.Equal(SubscriptionStatus.Active, (await App.DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == first.SubscriptionId))).Status);
    }

    [Fact]
    public async Task Refund_OfAnUnsettledOrUnknownInvoice_IsRefused()
    {
        var buyer = await App.RegisterAsync();
        var open = await App.BuyAsync(buyer.Id);
        Assert.Equal(409, (await Assert.ThrowsAsync<DomainException>(() => RefundAsync(open.Id))).Status);
        Assert.Equal(404, (await Assert.ThrowsAsync<DomainException>(() => RefundAsync(Guid.NewGuid()))).Status);
    }
}
