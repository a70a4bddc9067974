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
using Satsub.Users;

namespace Satsub.Tests.Affiliates;

public sealed class FraudGuardFixture() : DatabaseFixture(DbKind.Sqlite)
{
    protected override IDictionary<string, string?> Settings => PayoutTestKit.With(
        ("Affiliate:MinPayingReferralsForPayout", "3"),
        ("Affiliate:RefundRateFlagBps", "2500"),
        ("Affiliate:RefundRateMinSales", "4"),
        ("Affiliate:MaxRegistrationsPerMinutePerCode", "60"));
}

/// <summary>Each fraud guard: what triggers it, what it does to the money, and the flag the admin sees with its reason.</summary>
public sealed class FraudGuardTests(FraudGuardFixture fx) : IClassFixture<FraudGuardFixture>
{
    private SatsubServices App => fx.App;

    private Task<User> RegisterAsync(string platform, string? externalId, string? username, string? referral) =>
        App.WithAsync<UserRegistration, User>(async r =>
            (await r.RegisterAsync(new RegistrationRequest(platform, externalId, username, referral), default)).User);

    private Task<Commission> CommissionAsync(Guid invoiceId) =>
        App.DbAsync(db => db.Commissions.AsNoTracking().SingleAsync(c => c.InvoiceId == invoiceId));

    private Task<List<Satsub.Operations.AdminFlag>> FlagsAsync(string kind, string subject) =>
        App.DbAsync(db => db.AdminFlags.AsNoTracking().Where(f => f.Kind == kind && f.Subject == subject).ToListAsync());

    private Task SaveDestinationAsync(Guid userId, string destination) =>
        App.DbAsync(db => db.Users.Where(u => u.Id == userId).ExecuteUpdateAsync(s => s.SetProperty(u => u.PayoutDestination, destination)));

    [Fact]
    public async Task SharedTelegramId_HoldsTheCommissionForReview_UntilTheAdminReleasesIt()
    {
        var telegramId = Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var referrer = await RegisterAsync("telegram", telegramId, "ref" + telegramId, null);
        var buyer = await RegisterAsync("website", telegramId, "web" + telegramId, referrer.ReferralCode);
        var invoice = await App.BuyAsync(buyer.Id);
        await App.SettleAsync(invoice.Id);

        var c = await CommissionAsync(invoice.Id);
        Assert.Equal(CommissionState.HeldForReview, c.State);
        Assert.Contains("Telegram id", c.ReviewReason);
        // HoldDays is 0, yet the commission waits in pending: it cannot be withdrawn.
        var balance = await App.BalanceAsync(referrer.Id);
        Assert.Equal((5_000L, 0L), (balance.Pending.Value, balance.Available.Value));
        var flag = Assert.Single(await FlagsAsync(FraudGuards.CommissionHeldFlag, $"affiliate {referrer.Id:D}"));
        Assert.Contains(telegramId, flag.Detail);
        Assert.Null(flag.ResolvedAt);

        // The hold-release worker leaves it alone, however long it waits.
        App.Clock.Advance(TimeSpan.FromDays(30));
        await App.WithAsync<HoldRelease, int>(h => h.ReleaseDueAsync(default));
        Assert.Equal(CommissionState.HeldForReview, (await CommissionAsync(invoice.Id)).State);

        var released = await App.WithAsync<CommissionReview, Commission>(r => r.ReleaseAsync(c.Id, default));
        Assert.Equal(CommissionState.Available, released.State);
        Assert.Equal((0L, 5_000L), ((await App.BalanceAsync(referrer.Id)).Pending.Value, (await App.BalanceAsync(referrer.Id)).Available.Value));
        Assert.NotNull(Assert.Single(await FlagsAsync(FraudGuards.CommissionHeldFlag, $"affiliate {referrer.Id:D}")).ResolvedAt);
        // Deciding again changes nothing; reversing a released commission is refused.
        await App.WithAsync<CommissionReview, Commission>(r => r.ReleaseAsync(c.Id, default));
        await PayoutTestKit.RefusedAsync(() => App.WithAsync<CommissionReview, Commission>(r => r.ReverseAsync(c.Id, default)), "commission_not_held", 409);
        Assert.Equal(5_000, (await App.BalanceAsync(referrer.Id)).Available.Value);
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task SharedPayoutDestination_IsHeld_AndReversingGivesTheCommissionToTheOwner_AndARefundStillBalances()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        var wallet = "same-" + Guid.NewGuid().ToString("N")[..8] + "@wallet.example";
        await SaveDestinationAsync(referrer.Id, wallet);
        await SaveDestinationAsync(buyer.Id, wallet.ToUpperInvariant());
        var owner = (await App.AccountAsync(Accounts.OwnerRevenue)).Value;
        var invoice = await App.BuyAsync(buyer.Id);
        await App.SettleAsync(invoice.Id);

        var c = await CommissionAsync(invoice.Id);
        Assert.Equal(CommissionState.HeldForReview, c.State);
        Assert.Contains("payout destination", c.ReviewReason);

        var reversed = await App.WithAsync<CommissionReview, Commission>(r => r.ReverseAsync(c.Id, default));
        Assert.Equal(CommissionState.Reversed, reversed.State);
        Assert.Equal(AffiliateBalance(0, 0), await App.BalanceAsync(referrer.Id));
        Assert.Equal(owner + 10_000, (await App.AccountAsync(Accounts.OwnerRevenue)).Value);

        // A refund after the reversal takes the whole sale back from the owner; the affiliate is untouched.
        var refund = await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(invoice.Id, "test", default));
        Assert.Equal((false, 0L), (refund.ClawedBack, refund.CommissionReversed.Value));
        Assert.Equal(CommissionState.Reversed, (await CommissionAsync(invoice.Id)).State);
        Assert.Equal(owner, (await App.AccountAsync(Accounts.OwnerRevenue)).Value);
        Assert.Equal(AffiliateBalance(0, 0), await App.BalanceAsync(referrer.Id));
        await App.AssertLedgerBalancedAsync();
    }

    private static AffiliateBalance AffiliateBalance(long pending, long available) => new(new Sats(pending), new Sats(available), Sats.Zero);

    [Fact]
    public async Task BuyerPayingFromTheReferrersWallet_IsHeld_AndARefundWhileHeldReversesFromPending()
    {
        var referrer = await App.RegisterAsync();
        await SaveDestinationAsync(referrer.Id, PayoutTestKit.OnchainAddress);
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        var (_, invoice) = await App.WithAsync<PurchaseService, (Subscription, Invoice)>(p =>
            p.StartAsync(buyer.Id, "basic", PaymentMethod.Onchain, PayoutTestKit.OnchainAddress.ToUpperInvariant(), default));
        await App.SettleAsync(invoice.Id);

        var c = await CommissionAsync(invoice.Id);
        Assert.Equal(CommissionState.HeldForReview, c.State);
        Assert.Contains("refund address", c.ReviewReason);

        var refund = await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(invoice.Id, "test", default));
        Assert.False(refund.ClawedBack);
        Assert.Equal(CommissionState.ClawedBack, (await CommissionAsync(invoice.Id)).State);
        Assert.Equal(AffiliateBalance(0, 0), await App.BalanceAsync(referrer.Id));
        await PayoutTestKit.RefusedAsync(() => App.WithAsync<CommissionReview, Commission>(r => r.ReleaseAsync(c.Id, default)), "commission_not_held", 409);
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task UnrelatedBuyer_IsNotHeld()
    {
        var referrer = await App.RegisterAsync();
        await SaveDestinationAsync(referrer.Id, "ref-" + Guid.NewGuid().ToString("N")[..8] + "@wallet.example");
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        await SaveDestinationAsync(buyer.Id, "buyer-" + Guid.NewGuid().ToString("N")[..8] + "@wallet.example");
        var invoice = await App.BuyAsync(buyer.Id);
        await App.SettleAsync(invoice.Id);
        var c = await CommissionAsync(invoice.Id);
        Assert.Equal(CommissionState.Available, c.State);
        Assert.Null(c.ReviewReason);
    }

    [Fact]
    public async Task FirstPayout_NeedsTheMinimumOfDistinctPayingReferrals()
    {
        var affiliate = await App.RegisterAsync();
        var loyal = await App.RegisterAsync(affiliate.ReferralCode);
        // Three sales, but to two customers: one renews.
        foreach (var buyer in new[] { loyal, loyal, await App.RegisterAsync(affiliate.ReferralCode) })
            await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        // Sign-ups that never pay count for nothing.
        await App.RegisterAsync(affiliate.ReferralCode);
        var e = await PayoutTestKit.RefusedAsync(() => App.RequestAsync(affiliate.Id, 5_000), "too_few_paying_referrals", 409);
        Assert.Contains("3", e.Message);
        Assert.Equal(15_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);

        await App.SellAsync(affiliate);
        var payout = await App.RequestAsync(affiliate.Id, 5_000);
        Assert.Equal(PayoutStatus.Approved, payout.Status);
    }

    [Fact]
    public async Task RefundRateAboveTheThreshold_FlagsTheAffiliate_OnlyOnceEnoughSalesExist()
    {
        var affiliate = await App.RegisterAsync();
        var sales = new List<Guid>();
        for (var i = 0; i < 3; i++) sales.Add(await App.SellAsync(affiliate));
        // 2 of 3 refunded, but 3 sales are fewer than RefundRateMinSales (4): no flag yet.
        foreach (var sale in sales.Take(2))
            await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(sale, "test", default));
        Assert.Empty(await FlagsAsync(FraudGuards.RefundRateFlag, $"affiliate {affiliate.Id:D}"));

        // Two more sales make 5; the rate is checked when a refund is recorded: 3 of 5 (60%) is flagged.
        sales.Add(await App.SellAsync(affiliate));
        sales.Add(await App.SellAsync(affiliate));
        await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(sales[2], "test", default));
        var flag = Assert.Single(await FlagsAsync(FraudGuards.RefundRateFlag, $"affiliate {affiliate.Id:D}"));
        Assert.Contains("3 of 5", flag.Detail);
    }

    [Fact]
    public async Task RefundRateAtTheThreshold_IsNotFlagged()
    {
        var affiliate = await App.RegisterAsync();
        var sales = new List<Guid>();
        for (var i = 0; i < 4; i++) sales.Add(await App.SellAsync(affiliate));
        await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(sales[0], "test", default)); // 25% == 2500 bps
        Assert.Empty(await FlagsAsync(FraudGuards.RefundRateFlag, $"affiliate {affiliate.Id:D}"));
    }

    [Fact]
    public async Task RegistrationsBeyondTheVelocityLimit_AreRegisteredWithoutTheReferrer_AndTheCodeIsFlagged()
    {
        var affiliate = await App.RegisterAsync();
        for (var i = 0; i < 60; i++)
            Assert.Equal(affiliate.Id, (await App.RegisterAsync(affiliate.ReferralCode)).ReferrerId);

        var over = await App.RegisterAsync(affiliate.ReferralCode);
        Assert.Null(over.ReferrerId);
        Assert.True(await App.DbAsync(db => db.Users.AnyAsync(u => u.Id == over.Id)), "the buyer is registered");
        var flag = Assert.Single(await FlagsAsync(FraudGuards.ReferralVelocityFlag, $"affiliate {affiliate.Id:D}"));
        Assert.Contains(affiliate.ReferralCode, flag.Detail);
        Assert.Contains(over.Id.ToString("D"), flag.Detail);
        // Their purchase earns the affiliate nothing.
        var invoice = await App.BuyAsync(over.Id);
        Assert.Null((await App.SettleAsync(invoice.Id)).AffiliateId);

        // A minute later the code credits again.
        App.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(affiliate.Id, (await App.RegisterAsync(affiliate.ReferralCode)).ReferrerId);
    }

    [Fact]
    public async Task GuardOff_PaysTheCommissionAsUsual()
    {
        await using var app = await SatsubServices.StartAsync(DbKind.Sqlite, PayoutTestKit.With(("Affiliate:HoldSharedIdentity", "false")));
        var referrer = await app.RegisterAsync();
        var buyer = await app.RegisterAsync(referrer.ReferralCode);
        await app.DbAsync(db => db.Users.Where(u => u.Id == referrer.Id || u.Id == buyer.Id)
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.PayoutDestination, "same@wallet.example")));
        var invoice = await app.BuyAsync(buyer.Id);
        await app.SettleAsync(invoice.Id);
        Assert.Equal(CommissionState.Available, await app.DbAsync(db => db.Commissions.Where(c => c.InvoiceId == invoice.Id).Select(c => c.State).SingleAsync()));
        Assert.Equal(5_000, (await app.BalanceAsync(referrer.Id)).Available.Value);
    }

    [Theory]
    [InlineData("Affiliate:MaxRegistrationsPerMinutePerCode", "59")]
    [InlineData("Affiliate:RefundRateFlagBps", "0")]
    [InlineData("Affiliate:RefundRateMinSales", "0")]
    [InlineData("Affiliate:MinPayingReferralsForPayout", "-1")]
    public async Task InvalidGuardSettings_AreRefusedAtStart(string key, string value)
    {
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            SatsubServices.StartAsync(DbKind.Sqlite, PayoutTestKit.With((key, value))));
        Assert.Contains(key, e.Message);
    }
}
