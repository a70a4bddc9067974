using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Ledger;
using Satsub.Payouts;
using Satsub.Payouts.Providers.Sandbox;
using Satsub.Tests.Fixtures;
using static Satsub.Tests.Payouts.PayoutTestKit;

namespace Satsub.Tests.Payouts;

public sealed class PayoutServiceTests_Sqlite(PayoutSqliteFixture fx) : PayoutServiceTests<PayoutSqliteFixture>(fx);

public sealed class PayoutServiceTests_Postgres(PayoutPostgresFixture fx) : PayoutServiceTests<PayoutPostgresFixture>(fx);

public abstract class PayoutServiceTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    [Fact]
    public async Task Request_ReservesTheAmount_FromAvailableIntoInFlight()
    {
        var affiliate = await App.AffiliateWithSalesAsync(2);

        var payout = await App.RequestAsync(affiliate.Id, 4_000);

        Assert.Equal(PayoutStatus.Approved, payout.Status); // below Payouts:AutoApproveMaxSats
        Assert.Equal("lightning_address", payout.DestinationType);
        Assert.Equal(SandboxPayoutProvider.ProviderName, payout.Provider);
        Assert.Equal(6_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
        Assert.Equal(4_000, await App.InFlightAsync(payout.Id));
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task Request_WithoutAmountOrDestination_TakesEverythingToTheSavedDestination()
    {
        var affiliate = await App.AffiliateWithSalesAsync(3);
        await App.DbAsync(async db =>
        {
            var user = await db.Users.SingleAsync(u => u.Id == affiliate.Id);
            user.PayoutDestination = OnchainAddress;
            return await db.SaveChangesAsync();
        });

        var payout = await App.RequestAsync(affiliate.Id, null, null);

        Assert.Equal(15_000, payout.AmountSats);
        Assert.Equal("onchain", payout.DestinationType);
        Assert.Equal(OnchainAddress, payout.Destination);
        Assert.Equal(0, (await App.BalanceAsync(affiliate.Id)).Available.Value);
    }

    [Fact]
    public async Task Request_AboveTheAvailableBalance_Is409_AndBelowTheMinimum_Is422()
    {
        var affiliate = await App.AffiliateWithSalesAsync(1);

        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 5_001), "insufficient_balance", 409);
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 999), "below_minimum", 422);
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 5_000, OnchainAddress), "below_minimum", 422); // MinOnchainSats 10,000
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 0), "invalid_amount", 422);
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 2_000, "not a destination"), "invalid_destination", 422);
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 2_000, null), "destination_required", 422);
        var nobody = await App.RegisterAsync();
        await RefusedAsync(() => App.RequestAsync(nobody.Id, null), "insufficient_balance", 409);
        Assert.Equal(5_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
        Assert.Equal(0, await App.DbAsync(db => db.Payouts.CountAsync(p => p.UserId == affiliate.Id)));
    }

    [Fact]
    public async Task Request_ToABolt11Invoice_TakesItsAmount_AndRefusesAWrongAmountAnExpiredOrAReusedInvoice()
    {
        var affiliate = await App.AffiliateWithSalesAsync(2);
        var now = App.Clock.GetUtcNow();
        var invoice = Invoice(3_000, now);

        var payout = await App.RequestAsync(affiliate.Id, null, invoice);

        Assert.Equal(3_000, payout.AmountSats);
        Assert.Equal("bolt11", payout.DestinationType);
        Assert.NotNull(payout.PaymentHash);
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 3_000, invoice), "destination_used", 409);
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 2_500, Invoice(3_000, now)), "invalid_destination", 422);
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 3_000, Invoice(3_000, now.AddHours(-2))), "invalid_destination", 422);
    }

    [Fact]
    public async Task LargePayouts_WaitForTheAdmin_WhoApprovesOrRejects_AndARejectionGivesTheMoneyBack()
    {
        var affiliate = await App.AffiliateWithSalesAsync(42); // 210,000 sats
        var first = await App.RequestAsync(affiliate.Id, 150_000);
        Assert.Equal(PayoutStatus.Requested, first.Status);
        Assert.Equal(0, await App.ProcessAsync()); // the worker does not touch it

        var approved = await App.WithAsync<PayoutService, Payout>(s => s.ApproveAsync(first.Id, default));
        Assert.Equal(PayoutStatus.Approved, approved.Status);
        Assert.Equal(PayoutStatus.Approved, (await App.WithAsync<PayoutService, Payout>(s => s.ApproveAsync(first.Id, default))).Status);

        var second = await App.RequestAsync(affiliate.Id, 60_000);
        var rejected = await App.WithAsync<PayoutService, Payout>(s => s.RejectAsync(second.Id, "looks odd", default));
        Assert.Equal(PayoutStatus.Rejected, rejected.Status);
        Assert.Equal("looks odd", rejected.FailureReason);
        Assert.Equal(60_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
        Assert.Equal(0, await App.InFlightAsync(second.Id));
        await RefusedAsync(() => App.WithAsync<PayoutService, Payout>(s => s.ApproveAsync(second.Id, default)), "invalid_payout_state", 409);
        // Rejecting twice changes nothing.
        await App.WithAsync<PayoutService, Payout>(s => s.RejectAsync(second.Id, "again", default));
        Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.IdempotencyKey == $"payout:{second.Id:D}:return")));
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task Sandbox_SendsAnApprovedPayout_AvailableToInFlightToPaid()
    {
        var affiliate = await App.AffiliateWithSalesAsync(2);
        var payout = await App.RequestAsync(affiliate.Id, 7_000);
        Assert.Equal(new AffiliateBalance(default, new(3_000), default), await App.BalanceAsync(affiliate.Id));

        await App.ProcessAsync();

        var sent = await App.GetPayoutAsync(payout.Id);
        Assert.Equal(PayoutStatus.Sent, sent.Status);
        Assert.StartsWith(SandboxPayoutProvider.ReferencePrefix, sent.PaymentHash, StringComparison.Ordinal);
        Assert.Equal(1, sent.Attempts);
        Assert.Equal(7_000, sent.SentSats);
        Assert.Equal(new AffiliateBalance(default, new(3_000), new(7_000)), await App.BalanceAsync(affiliate.Id));
        Assert.Equal(0, await App.InFlightAsync(payout.Id));
        Assert.Equal(1, await App.DbAsync(db => db.OutboxMessages.CountAsync(m => m.Type == "payout.sent" && m.DedupeKey == $"payout.sent:{payout.Id:D}")));
        await App.ProcessAsync(); // nothing more happens
        Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.IdempotencyKey == $"payout:{payout.Id:D}:settle")));
        await RefusedAsync(() => App.WithAsync<PayoutService, Payout>(s => s.RejectAsync(payout.Id, "too late", default)), "invalid_payout_state", 409);
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task ACrashAfterTheClaim_IsReconciled_AndPaysOnce()
    {
        var affiliate = await App.AffiliateWithSalesAsync(1);
        var sentBefore = await App.RequestAsync(affiliate.Id, 2_000);
        var neverSent = await App.RequestAsync(affiliate.Id, 2_000);

        // Crash 1: the provider paid, the process died before recording it. Crash 2: it died right after the claim.
        await App.WithAsync<PayoutProcessor, bool>(async p =>
        {
            var claimed = await p.ClaimAsync(sentBefore.Id, default);
            await App.Services.GetServices<IPayoutProvider>().OfType<SandboxPayoutProvider>().Single().SendAsync(claimed!, default);
            return true;
        });
        await App.WithAsync<PayoutProcessor, Payout?>(p => p.ClaimAsync(neverSent.Id, default));
        Assert.Equal(0, await App.WithAsync<PayoutProcessor, int>(p => p.ReconcileAsync(default))); // not stale yet

        App.Clock.Advance(TimeSpan.FromMinutes(5));
        await App.ProcessAsync();

        Assert.Equal(PayoutStatus.Sent, (await App.GetPayoutAsync(sentBefore.Id)).Status);
        Assert.Equal(1, (await App.GetPayoutAsync(sentBefore.Id)).Attempts); // reconciled, not sent again
        var resent = await App.GetPayoutAsync(neverSent.Id);
        Assert.Equal(PayoutStatus.Sent, resent.Status);
        Assert.Equal(2, resent.Attempts);
        Assert.Equal(new AffiliateBalance(default, new(1_000), new(4_000)), await App.BalanceAsync(affiliate.Id));
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task DailyCap_CountsEveryAffiliate_AndResetsTheNextDay()
    {
        await using var app = await SatsubServices.StartAsync(App.Kind, With(("Payouts:DailyCapSats", "8000")));
        var a = await app.AffiliateWithSalesAsync(2);
        var b = await app.AffiliateWithSalesAsync(1);
        await app.RequestAsync(a.Id, 5_000);

        await RefusedAsync(() => app.RequestAsync(b.Id, 4_000), "daily_cap_reached", 409);
        var rejected = await app.RequestAsync(b.Id, 3_000);
        await app.WithAsync<PayoutService, Payout>(s => s.RejectAsync(rejected.Id, "no", default));
        await app.RequestAsync(a.Id, 3_000); // a rejected payout no longer counts

        app.Clock.Advance(TimeSpan.FromDays(1));
        await app.RequestAsync(b.Id, 4_000);
    }

    [Fact]
    public async Task Manual_ExportsApprovedPayoutsAsCsv_AndTheAdminMarksEachSent()
    {
        await using var app = await SatsubServices.StartAsync(App.Kind, With(("Payouts:Provider", "manual")));
        var affiliate = await app.AffiliateWithSalesAsync(3);
        var payout = await app.RequestAsync(affiliate.Id, 12_000, OnchainAddress);
        Assert.Equal("manual", payout.Provider);
        Assert.Equal(0, await app.ProcessAsync()); // the worker never sends manual payouts

        var csv = new StringWriter();
        Assert.Equal(1, await app.WithAsync<PayoutExport, int>(e => e.WriteCsvAsync(csv)));
        var lines = csv.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("payout_id,user_id,requested_at,destination_type,destination,amount_sats", lines[0], StringComparison.Ordinal);
        Assert.Contains($"{payout.Id:D},{affiliate.Id:D},", lines[1], StringComparison.Ordinal);
        Assert.Contains($",onchain,{OnchainAddress},12000,", lines[1], StringComparison.Ordinal);

        var txid = new string('a', 64);
        await RefusedAsync(() => app.WithAsync<PayoutService, Payout>(s => s.MarkSentAsync(payout.Id, "nope", 300, default)), "invalid_reference", 422);
        var sent = await app.WithAsync<PayoutService, Payout>(s => s.MarkSentAsync(payout.Id, txid, 300, default));
        Assert.Equal(PayoutStatus.Sent, sent.Status);
        Assert.Equal(txid, sent.Txid);
        Assert.Equal(300, sent.FeeSats);
        Assert.Equal(11_700, sent.SentSats); // the affiliate fee policy: the fee came out of the payout
        Assert.Equal(new AffiliateBalance(default, new(3_000), new(11_700)), await app.BalanceAsync(affiliate.Id));
        Assert.Equal(300, (await app.AccountAsync(PayoutAccounts.Fees)).Value);
        var other = await app.RequestAsync(affiliate.Id, 3_000);
        await RefusedAsync(() => app.WithAsync<PayoutService, Payout>(s => s.MarkSentAsync(other.Id, txid, 0, default)), "invalid_reference", 409);
        // Marking again changes nothing; the export is empty but for the other payout.
        await app.WithAsync<PayoutService, Payout>(s => s.MarkSentAsync(payout.Id, txid, 300, default));
        Assert.Equal(1, await app.WithAsync<PayoutExport, int>(e => e.WriteCsvAsync(new StringWriter())));
        await app.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task OwnerFeePolicy_PaysTheWholeAmount_AndChargesTheFeeToOwnerRevenue()
    {
        await using var app = await SatsubServices.StartAsync(App.Kind, With(("Payouts:Provider", "manual"), ("Payouts:FeePolicy", "owner")));
        var affiliate = await app.AffiliateWithSalesAsync(1);
        var owner = (await app.AccountAsync(Accounts.OwnerRevenue)).Value;
        var payout = await app.RequestAsync(affiliate.Id, 5_000);

        await app.WithAsync<PayoutService, Payout>(s => s.MarkSentAsync(payout.Id, new string('b', 64), 12, default));

        Assert.Equal(new AffiliateBalance(default, default, new(5_000)), await app.BalanceAsync(affiliate.Id));
        Assert.Equal(owner - 12, (await app.AccountAsync(Accounts.OwnerRevenue)).Value);
        Assert.Equal(12, (await app.AccountAsync(PayoutAccounts.Fees)).Value);
        await app.AssertLedgerBalancedAsync();
    }
}
