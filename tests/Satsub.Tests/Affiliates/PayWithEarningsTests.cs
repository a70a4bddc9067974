using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Payouts;
using Satsub.Refunds;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payouts;

namespace Satsub.Tests.Affiliates;

internal static class EarningsKit
{
    public static Task<(Subscription Subscription, Invoice Invoice)> PayWithEarningsAsync(this SatsubServices app, Guid userId, string? key, string plan = "basic") =>
        app.WithAsync<PayWithEarnings, (Subscription, Invoice)>(p => p.PayAsync(userId, plan, key, default));
}

public abstract class PayWithEarningsTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    protected SatsubServices App => fx.App;

    [Fact]
    public async Task Renewal_PaidFromAvailable_IsASale_ThatEarnsTheBuyersReferrer_AndIsIdempotent()
    {
        var referrer = await App.RegisterAsync();
        var affiliate = await App.RegisterAsync(referrer.ReferralCode);
        for (var i = 0; i < 3; i++) await App.SellAsync(affiliate); // 15,000 available
        var referrerBefore = await App.BalanceAsync(referrer.Id);
        var customerPayments = (await App.AccountAsync(Accounts.CustomerPayments)).Value;
        var key = "renew-" + Guid.NewGuid().ToString("N");

        var (subscription, invoice) = await App.PayWithEarningsAsync(affiliate.Id, key);

        Assert.Equal(SubscriptionStatus.Active, subscription.Status);
        Assert.Equal(affiliate.Id, subscription.UserId);
        Assert.Equal((InvoiceStatus.Settled, PayWithEarnings.ProviderName, 10_000L), (invoice.Status, invoice.Provider, invoice.AmountSats));
        Assert.Equal(5_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
        // The buyer's direct referrer earns the usual half; the buyer earns nothing on their own purchase.
        var referrerAfter = await App.BalanceAsync(referrer.Id);
        Assert.Equal(referrerBefore.Available.Value + 5_000, referrerAfter.Available.Value);
        var commission = await App.DbAsync(db => db.Commissions.AsNoTracking().SingleAsync(c => c.InvoiceId == invoice.Id));
        Assert.Equal((referrer.Id, affiliate.Id, 5_000L), (commission.AffiliateId, commission.BuyerId, commission.AmountSats));
        // No money came in from outside: customer payments did not move.
        Assert.Equal(customerPayments, (await App.AccountAsync(Accounts.CustomerPayments)).Value);
        await App.AssertLedgerBalancedAsync();

        // The same key again: the same purchase, nothing spent twice.
        var (_, again) = await App.PayWithEarningsAsync(affiliate.Id, key);
        Assert.Equal(invoice.Id, again.Id);
        Assert.Equal(5_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
        Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.IdempotencyKey == $"earnings:{invoice.Id:D}")));

        // A second renewal extends the same subscription but the balance no longer covers it.
        await PayoutTestKit.RefusedAsync(() => App.PayWithEarningsAsync(affiliate.Id, "other-" + key), "insufficient_balance", 409);
        Assert.Equal(5_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task RenewalExtendsTheExistingSubscription()
    {
        var affiliate = await App.AffiliateWithSalesAsync(4); // 20,000
        var first = await App.BuyAsync(affiliate.Id);
        var settled = await App.SettleAsync(first.Id);
        var (subscription, _) = await App.PayWithEarningsAsync(affiliate.Id, null);
        Assert.Equal(settled.SubscriptionId, subscription.Id);
        Assert.Equal(settled.PeriodEnd.AddDays(30), subscription.ExpiresAt);
    }

    [Fact]
    public async Task Refused_WhenAvailableIsShort_AndNothingIsPosted()
    {
        var affiliate = await App.AffiliateWithSalesAsync(1); // 5,000 < 10,000
        var postings = await App.DbAsync(db => db.LedgerPostings.CountAsync());
        await PayoutTestKit.RefusedAsync(() => App.PayWithEarningsAsync(affiliate.Id, "k-" + Guid.NewGuid().ToString("N")), "insufficient_balance", 409);
        await PayoutTestKit.RefusedAsync(() => App.PayWithEarningsAsync(affiliate.Id, null, plan: "nope"), "unknown_plan", 422);
        Assert.Equal(postings, await App.DbAsync(db => db.LedgerPostings.CountAsync()));
        Assert.Equal(5_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
    }

    [Fact]
    public async Task Refund_OfAnEarningsSale_ReturnsThePriceToTheBuyersAvailable_AndReversesTheCommission()
    {
        var referrer = await App.RegisterAsync();
        var affiliate = await App.RegisterAsync(referrer.ReferralCode);
        for (var i = 0; i < 2; i++) await App.SellAsync(affiliate);
        var customerPayments = (await App.AccountAsync(Accounts.CustomerPayments)).Value;
        var (_, invoice) = await App.PayWithEarningsAsync(affiliate.Id, null);
        Assert.Equal(0, (await App.BalanceAsync(affiliate.Id)).Available.Value);

        var refund = await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(invoice.Id, "test", default));
        Assert.True(refund.ClawedBack); // no hold: the referrer's commission was already available
        Assert.Equal(10_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
        Assert.Equal(0, (await App.BalanceAsync(referrer.Id)).Available.Value);
        Assert.Equal(customerPayments, (await App.AccountAsync(Accounts.CustomerPayments)).Value);
        await App.AssertLedgerBalancedAsync();
    }
}

public sealed class PayWithEarningsTests_Sqlite(PayoutSqliteFixture fx) : PayWithEarningsTests<PayoutSqliteFixture>(fx);

public sealed class PayWithEarningsTests_Postgres(PayoutPostgresFixture fx) : PayWithEarningsTests<PayoutPostgresFixture>(fx)
{
    /// <summary>Purchases and withdrawals racing on one balance never spend more than it holds.</summary>
    [Fact]
    public async Task ParallelPurchasesAndPayouts_NeverSpendMoreThanAvailable()
    {
        var affiliate = await App.AffiliateWithSalesAsync(5); // 25,000
        var tasks = Enumerable.Range(0, 24).Select(i => Task.Run(async () =>
        {
            try
            {
                if (i % 2 == 0)
                {
                    var (_, invoice) = await App.PayWithEarningsAsync(affiliate.Id, $"p-{i}", i % 4 == 0 ? "basic" : "premium");
                    return invoice.AmountSats;
                }
                return (await App.RequestAsync(affiliate.Id, 6_000)).AmountSats;
            }
            catch (DomainException e) when (e.Code == "insufficient_balance")
            {
                return 0L;
            }
        })).ToList();
        var spent = (await Task.WhenAll(tasks)).Sum();

        var available = (await App.BalanceAsync(affiliate.Id)).Available.Value;
        Assert.True(spent <= 25_000, $"spent {spent} of 25000");
        Assert.Equal(25_000 - spent, available);
        Assert.True(available < 6_000, $"{available} left: a refused request could have fitted");
        var earned = await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.Kind == "pay_with_earnings"
            && db.Invoices.Any(i => i.Id == p.InvoiceId && i.UserId == affiliate.Id)));
        var settled = await App.DbAsync(db => db.Invoices.CountAsync(i => i.UserId == affiliate.Id && i.Provider == PayWithEarnings.ProviderName && i.Status == InvoiceStatus.Settled));
        Assert.Equal(settled, earned);
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task TheSameKeyInParallel_BuysOnce()
    {
        var affiliate = await App.AffiliateWithSalesAsync(6); // 30,000
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => App.PayWithEarningsAsync(affiliate.Id, "same"))));
        Assert.Single(results.Select(r => r.Invoice.Id).Distinct());
        Assert.Equal(20_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
    }
}
