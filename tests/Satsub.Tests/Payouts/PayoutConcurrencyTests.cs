using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Payouts;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payouts;

/// <summary>Many instances serve one PostgreSQL: concurrent requests of one affiliate must never reserve more than is available.</summary>
public sealed class PayoutConcurrencyTests_Postgres(PayoutPostgresFixture fx) : IClassFixture<PayoutPostgresFixture>
{
    private SatsubServices App => fx.App;

    [Fact]
    public async Task FiftyConcurrentRequests_NeverTakeMoreThanTheAvailableBalance()
    {
        var affiliate = await App.AffiliateWithSalesAsync(5); // 25,000 sats
        var amounts = Enumerable.Range(0, 50).Select(i => 1_000L + i % 7 * 500).ToArray();

        var results = await Task.WhenAll(amounts.Select(amount => Task.Run(async () =>
        {
            try
            {
                return (Payout?)await App.RequestAsync(affiliate.Id, amount);
            }
            catch (DomainException e) when (e.Code is "insufficient_balance")
            {
                return null;
            }
        })));

        var made = results.OfType<Payout>().ToList();
        var reserved = made.Sum(p => p.AmountSats);
        Assert.NotEmpty(made);
        Assert.True(reserved <= 25_000, $"reserved {reserved} of 25000");
        var balance = await App.BalanceAsync(affiliate.Id);
        Assert.Equal(25_000 - reserved, balance.Available.Value);
        Assert.True(balance.Available.Value >= 0);
        Assert.True(balance.Available.Value < 1_000 || made.Count == 50, "a refused request could have fitted");
        Assert.Equal(made.Count, await App.DbAsync(db => db.Payouts.CountAsync(p => p.UserId == affiliate.Id)));
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task FiftyConcurrentWithdrawEverythingRequests_MakeOnePayout()
    {
        var affiliate = await App.AffiliateWithSalesAsync(2);

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(async () =>
        {
            try
            {
                return (Payout?)await App.RequestAsync(affiliate.Id, null);
            }
            catch (DomainException e) when (e.Code is "insufficient_balance")
            {
                return null;
            }
        })));

        var payout = Assert.Single(results.OfType<Payout>());
        Assert.Equal(10_000, payout.AmountSats);
        Assert.Equal(new AffiliateBalance(default, default, default), await App.BalanceAsync(affiliate.Id));
        await App.AssertLedgerBalancedAsync();
    }
}
