using System.Globalization;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Payouts;
using Satsub.Tests.Fixtures;
using Satsub.Users;
using W = Satsub.Tests.Payouts.Lightning.Bolt11TestWriter;

namespace Satsub.Tests.Payouts;

/// <summary>Commission available at settlement (no hold), so sales turn straight into withdrawable balance.</summary>
public sealed class PayoutSqliteFixture() : DatabaseFixture(DbKind.Sqlite)
{
    protected override IDictionary<string, string?> Settings => PayoutTestKit.NoHold;
}

public sealed class PayoutPostgresFixture() : DatabaseFixture(DbKind.Postgres)
{
    protected override IDictionary<string, string?> Settings => PayoutTestKit.NoHold;
}

internal static class PayoutTestKit
{
    /// <summary>A mainnet P2WPKH address (BIP 173's example).</summary>
    public const string OnchainAddress = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";

    public static Dictionary<string, string?> NoHold => new() { ["Affiliate:HoldDays"] = "0" };

    public static Dictionary<string, string?> With(params (string Key, string? Value)[] settings)
    {
        var all = NoHold;
        foreach (var (k, v) in settings) all[k] = v;
        return all;
    }

    /// <summary>An affiliate with <paramref name="sales"/> settled basic sales (5,000 sats of commission each).</summary>
    public static async Task<User> AffiliateWithSalesAsync(this SatsubServices app, int sales)
    {
        var affiliate = await app.RegisterAsync();
        for (var i = 0; i < sales; i++) await app.SellAsync(affiliate);
        return affiliate;
    }

    public static async Task<Guid> SellAsync(this SatsubServices app, User affiliate)
    {
        var buyer = await app.RegisterAsync(affiliate.ReferralCode);
        var invoice = await app.BuyAsync(buyer.Id);
        await app.SettleAsync(invoice.Id);
        return invoice.Id;
    }

    public static Task<Payout> RequestAsync(this SatsubServices app, Guid userId, long? amount, string? destination = "alice@wallet.example") =>
        app.WithAsync<PayoutService, Payout>(s => s.RequestAsync(userId, amount, destination, default));

    public static Task<Payout> GetPayoutAsync(this SatsubServices app, Guid id) =>
        app.WithAsync<PayoutService, Payout>(s => s.GetAsync(id, default));

    public static Task<int> ProcessAsync(this SatsubServices app) =>
        app.WithAsync<PayoutProcessor, int>(p => p.RunOnceAsync(default));

    public static Task<AffiliateBalance> BalanceAsync(this SatsubServices app, Guid userId) =>
        app.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, userId, default));

    public static Task<Sats> AccountAsync(this SatsubServices app, string account) =>
        app.DbAsync(db => LedgerBook.BalanceAsync(db, account, default));

    /// <summary>This payout's share of <c>payouts_in_flight</c>: reserved minus settled or returned.</summary>
    public static Task<long> InFlightAsync(this SatsubServices app, Guid payoutId) => app.DbAsync(db =>
    {
        var keys = new[] { $"payout:{payoutId:D}:reserve", $"payout:{payoutId:D}:settle", $"payout:{payoutId:D}:return" };
        return db.LedgerEntries.Where(e => e.Account == Accounts.PayoutsInFlight
                && db.LedgerPostings.Any(p => p.Id == e.PostingId && keys.Contains(p.IdempotencyKey)))
            .SumAsync(e => e.AmountSats);
    });

    /// <summary>Every posting balances and all accounts together sum to zero.</summary>
    public static async Task AssertLedgerBalancedAsync(this SatsubServices app)
    {
        Assert.Empty(await app.DbAsync(db => LedgerBook.UnbalancedPostingsAsync(db, default)));
        Assert.Equal(0, (await app.DbAsync(db => LedgerBook.AllBalancesAsync(db, default))).Values.Sum());
    }

    public static async Task<DomainException> RefusedAsync(Func<Task> action, string code, int status)
    {
        var e = await Assert.ThrowsAnyAsync<DomainException>(action);
        Assert.Equal(code, e.Code);
        Assert.Equal(status, e.Status);
        return e;
    }

    /// <summary>A signed mainnet BOLT11 for <paramref name="sats"/> with a fresh payment hash.</summary>
    public static string Invoice(long sats, DateTimeOffset at, long expirySeconds = 3600)
    {
        var hrp = "lnbc" + (sats * 10_000).ToString(CultureInfo.InvariantCulture) + "p";
        return W.Write(hrp, at.ToUnixTimeSeconds(),
        [
            (W.P, W.ToWords(RandomNumberGenerator.GetBytes(32))),
            W.SecretField(),
            W.DescriptionField("payout"),
            (W.X, W.UInt(expirySeconds)),
        ]);
    }
}
