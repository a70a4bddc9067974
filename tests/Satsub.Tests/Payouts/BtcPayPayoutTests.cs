using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Payouts;
using Satsub.Payouts.Providers.BtcPay;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payouts;

/// <summary>The btcpay payout provider against a local Greenfield server: on-chain and Lightning, approval, completion, cancellation, refusals, time-outs and crashes.</summary>
public sealed class BtcPayPayoutTests : IAsyncLifetime
{
    private FakeBtcPayPayouts btcpay = null!;
    private SatsubServices app = null!;

    private static readonly string Txid = new string('a', 63) + "1";
    private static readonly string PaymentHash = new string('b', 63) + "2";

    public async Task InitializeAsync()
    {
        btcpay = await FakeBtcPayPayouts.StartAsync();
        app = await StartAppAsync(timeoutSeconds: 15);
    }

    private Task<SatsubServices> StartAppAsync(int timeoutSeconds) =>
        SatsubServices.StartAsync(DbKind.Sqlite, PayoutTestKit.With(
            ("Payouts:Provider", "btcpay"),
            ("Payouts:BtcPay:Url", btcpay.BaseUri.ToString()),
            ("Payouts:BtcPay:ApiKey", FakeBtcPayPayouts.ApiKey),
            ("Payouts:BtcPay:StoreId", FakeBtcPayPayouts.StoreId),
            ("Payouts:BtcPay:TimeoutSeconds", timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Payouts:ReconcileAfterSeconds", "60")));

    public async Task DisposeAsync()
    {
        await app.DisposeAsync();
        await btcpay.DisposeAsync();
    }

    private async Task<Payout> ReconcileAsync(Guid id)
    {
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        await app.ProcessAsync();
        return await app.GetPayoutAsync(id);
    }

    [Fact]
    public async Task OnchainPayout_IsCreatedApprovedAndTracked_UntilCompletedWithItsTxid()
    {
        var affiliate = await app.AffiliateWithSalesAsync(3);
        var payout = await app.RequestAsync(affiliate.Id, 12_000, PayoutTestKit.OnchainAddress);
        await app.ProcessAsync();

        var created = btcpay.Single();
        Assert.Equal((PayoutTestKit.OnchainAddress, "0.00012000", "BTC-CHAIN", "AwaitingPayment"), (created.Destination, created.Amount, created.PayoutMethodId, created.State));
        Assert.Equal(payout.Id.ToString("D"), created.Metadata![BtcPayPayoutProvider.MetadataKey]!.GetValue<string>());
        Assert.Equal(PayoutStatus.Sending, (await app.GetPayoutAsync(payout.Id)).Status);

        btcpay.SetState(created.Id, "InProgress");
        Assert.Equal(PayoutStatus.Sending, (await ReconcileAsync(payout.Id)).Status);

        btcpay.Complete(created.Id, new JsonObject { ["proofType"] = "PayoutTransactionOnChainBlob", ["transactionId"] = Txid });
        var sent = await ReconcileAsync(payout.Id);
        Assert.Equal((PayoutStatus.Sent, Txid, 12_000L), (sent.Status, sent.Txid, sent.SentSats ?? 0));
        var balance = await app.BalanceAsync(affiliate.Id);
        Assert.Equal((3_000L, 12_000L), (balance.Available.Value, balance.Paid.Value));
        Assert.Equal(1, btcpay.Creates);
        await app.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task LightningAddressPayout_GoesOutAsALightningPayout_AndRecordsThePaymentHash()
    {
        var affiliate = await app.AffiliateWithSalesAsync(1);
        var payout = await app.RequestAsync(affiliate.Id, 5_000, "alice@wallet.example");
        await app.ProcessAsync();
        var created = btcpay.Single();
        Assert.Equal(("alice@wallet.example", "0.00005000", "BTC-LN"), (created.Destination, created.Amount, created.PayoutMethodId));

        btcpay.Complete(created.Id, new JsonObject { ["proofType"] = "PayoutLightningBlob", ["paymentHash"] = PaymentHash, ["preimage"] = new string('c', 64) });
        var sent = await ReconcileAsync(payout.Id);
        Assert.Equal((PayoutStatus.Sent, PaymentHash), (sent.Status, sent.PaymentHash));
    }

    [Fact]
    public async Task PayoutLeftAwaitingApproval_IsApprovedWithItsRevision()
    {
        btcpay.ApproveOnCreate = false;
        var affiliate = await app.AffiliateWithSalesAsync(1);
        await app.RequestAsync(affiliate.Id, 5_000, "alice@wallet.example");
        await app.ProcessAsync();
        Assert.Equal(1, btcpay.Approvals);
        Assert.Equal("AwaitingPayment", btcpay.Single().State);
    }

    [Fact]
    public async Task CancelledInBtcPay_FailsThePayout_AndReturnsTheMoney()
    {
        var affiliate = await app.AffiliateWithSalesAsync(2);
        var payout = await app.RequestAsync(affiliate.Id, 10_000, PayoutTestKit.OnchainAddress);
        await app.ProcessAsync();
        btcpay.SetState(btcpay.Single().Id, "Cancelled");
        var failed = await ReconcileAsync(payout.Id);
        Assert.Equal(PayoutStatus.Failed, failed.Status);
        Assert.Contains("cancelled", failed.FailureReason);
        Assert.Equal(10_000, (await app.BalanceAsync(affiliate.Id)).Available.Value);
        await app.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task RefusedByBtcPay_FailsAtOnce_WithItsReason()
    {
        btcpay.RefuseNextWith = "overdraft";
        var affiliate = await app.AffiliateWithSalesAsync(2);
        var payout = await app.RequestAsync(affiliate.Id, 10_000, PayoutTestKit.OnchainAddress);
        await app.ProcessAsync();
        var failed = await app.GetPayoutAsync(payout.Id);
        Assert.Equal(PayoutStatus.Failed, failed.Status);
        Assert.Contains("overdraft", failed.FailureReason);
        Assert.Empty(btcpay.Payouts);
        Assert.Equal(10_000, (await app.BalanceAsync(affiliate.Id)).Available.Value);
    }

    [Fact]
    public async Task TimeOutAfterCreation_StaysInFlight_AndIsReconciledByMetadata_NeverCreatedTwice()
    {
        await app.DisposeAsync();
        app = await StartAppAsync(timeoutSeconds: 2);
        var affiliate = await app.AffiliateWithSalesAsync(2);
        btcpay.CreateDelay = TimeSpan.FromSeconds(4); // longer than Payouts:BtcPay:TimeoutSeconds
        var payout = await app.RequestAsync(affiliate.Id, 10_000, PayoutTestKit.OnchainAddress);
        await app.ProcessAsync();
        Assert.Equal(PayoutStatus.Sending, (await app.GetPayoutAsync(payout.Id)).Status);
        btcpay.CreateDelay = TimeSpan.Zero;

        // Reconciliation finds the payout BTCPay made despite the lost answer, and sends nothing new.
        for (var i = 0; i < 3; i++) Assert.Equal(PayoutStatus.Sending, (await ReconcileAsync(payout.Id)).Status);
        Assert.Equal(1, btcpay.Creates);

        btcpay.Complete(btcpay.Single().Id, new JsonObject { ["proofType"] = "PayoutTransactionOnChainBlob", ["transactionId"] = Txid });
        Assert.Equal(PayoutStatus.Sent, (await ReconcileAsync(payout.Id)).Status);
        Assert.Equal(1, btcpay.Creates);
    }

    [Fact]
    public async Task CrashBeforeAndAfterCreating_IsSafe()
    {
        var affiliate = await app.AffiliateWithSalesAsync(4);
        // Crash right after the claim: BTCPay never heard of it, so it is sent again, once.
        var first = await app.RequestAsync(affiliate.Id, 10_000, PayoutTestKit.OnchainAddress);
        Assert.NotNull(await app.WithAsync<PayoutProcessor, Payout?>(p => p.ClaimAsync(first.Id, default)));
        await ReconcileAsync(first.Id);
        Assert.Equal(1, btcpay.Creates);

        // Crash right after BTCPay created it (nothing recorded): reconciliation adopts it.
        var second = await app.RequestAsync(affiliate.Id, 10_000, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");
        var claimed = await app.WithAsync<PayoutProcessor, Payout?>(p => p.ClaimAsync(second.Id, default));
        var provider = app.Services.GetServices<IPayoutProvider>().OfType<BtcPayPayoutProvider>().Single();
        await provider.SendAsync(claimed!, default);
        Assert.Equal(2, btcpay.Creates);
        Assert.Equal(PayoutStatus.Sending, (await ReconcileAsync(second.Id)).Status);
        Assert.Equal(2, btcpay.Creates);
    }

    [Fact]
    public async Task UnreachableServer_LeavesThePayoutInFlight()
    {
        btcpay.FailAllWith = 503;
        var affiliate = await app.AffiliateWithSalesAsync(2);
        var payout = await app.RequestAsync(affiliate.Id, 10_000, PayoutTestKit.OnchainAddress);
        await app.ProcessAsync();
        Assert.Equal(PayoutStatus.Sending, (await app.GetPayoutAsync(payout.Id)).Status);
        Assert.Equal(PayoutStatus.Sending, (await ReconcileAsync(payout.Id)).Status);
        Assert.Equal(0, (await app.BalanceAsync(affiliate.Id)).Available.Value);

        btcpay.FailAllWith = null;
        await ReconcileAsync(payout.Id); // never created: reopened and sent
        Assert.Equal(1, btcpay.Creates);
    }
}

public sealed class BtcPayPayoutOptionsTests
{
    [Theory]
    [InlineData(null, "key", "store", "Payouts:BtcPay:Url")]
    [InlineData("http://btcpay.example.com", "key", "store", "Payouts:BtcPay:Url must use https")]
    [InlineData("https://btcpay.example.com", null, "store", "Payouts:BtcPay:ApiKey")]
    [InlineData("https://btcpay.example.com", "key", null, "Payouts:BtcPay:StoreId")]
    public async Task MissingOrUnsafeSettings_AreRefusedAtStart(string? url, string? key, string? store, string expected)
    {
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => SatsubServices.StartAsync(DbKind.Sqlite, PayoutTestKit.With(
            ("Payouts:Provider", "btcpay"), ("Payouts:BtcPay:Url", url), ("Payouts:BtcPay:ApiKey", key), ("Payouts:BtcPay:StoreId", store))));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Amounts_AreBtcWithEightDecimals() =>
        Assert.Equal(("0.00012000", "21.00000001"), (BtcPayPayoutProvider.Btc(12_000), BtcPayPayoutProvider.Btc(2_100_000_001)));
}
