using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NBitcoin;
using Satsub.Ledger;
using Satsub.Payouts;
using Satsub.Payouts.LightningAddress;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payouts.LightningAddress;
using static Satsub.Tests.Payouts.PayoutTestKit;

namespace Satsub.Tests.Payouts;

/// <summary>A Satsub whose payouts go through LND (a <see cref="FakeLndRouter"/>), with Lightning Addresses served by an <see cref="LnurlTestServer"/>.</summary>
public abstract class LndPayoutFixture(DbKind kind) : IAsyncLifetime
{
    public SatsubServices App { get; private set; } = null!;
    public FakeLndRouter Lnd { get; private set; } = null!;
    internal LnurlTestServer Lnurl { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Lnd = await FakeLndRouter.StartAsync();
        Lnurl = await LnurlTestServer.StartAsync();
        var settings = With(
            ("Payouts:Provider", "lnd"),
            ("Payouts:Lnd:Url", Lnd.Url.ToString()),
            ("Payouts:Lnd:MacaroonHex", FakeLndRouter.Macaroon),
            ("Payouts:Lnd:FeeLimitSats", "100"),
            ("Payouts:Lnd:TimeoutSeconds", "1"),
            ("Payouts:ReconcileAfterSeconds", "60"));
        App = await SatsubServices.StartAsync(kind, settings, services => services.Replace(ServiceDescriptor.Singleton(new LnurlPayClient(
            new LightningAddressOptions { AllowPrivateTargets = true, TimeoutSeconds = 10 },
            Network.Main,
            TimeProvider.System,
            handler =>
            {
                handler.SslOptions.RemoteCertificateValidationCallback = Lnurl.TrustOnlyThisCertificate;
                return Lnurl.PortRedirector(handler);
            },
            LnurlTestServer.Resolve))));
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Lnd.DisposeAsync();
        await Lnurl.DisposeAsync();
    }
}

public sealed class LndPayoutSqliteFixture() : LndPayoutFixture(DbKind.Sqlite);

public sealed class LndPayoutPostgresFixture() : LndPayoutFixture(DbKind.Postgres);

public sealed class LndPayoutTests_Sqlite(LndPayoutSqliteFixture fx) : LndPayoutTests<LndPayoutSqliteFixture>(fx);

public sealed class LndPayoutTests_Postgres(LndPayoutPostgresFixture fx) : LndPayoutTests<LndPayoutPostgresFixture>(fx);

public abstract class LndPayoutTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : LndPayoutFixture
{
    private SatsubServices App => fx.App;

    private const string Address = $"{LnurlTestServer.Name}@{LnurlTestServer.Domain}";

    [Fact]
    public async Task ALightningAddress_IsResolvedStoredAndPaid_WithTheFeeTakenFromThePayout()
    {
        fx.Lnd.Next = FakeLndRouter.Ending.Succeed;
        fx.Lnd.FeeMsat = 2_500;
        var affiliate = await App.AffiliateWithSalesAsync(1);
        var payout = await App.RequestAsync(affiliate.Id, 5_000, Address);

        await App.ProcessAsync();

        var sent = await App.GetPayoutAsync(payout.Id);
        Assert.Equal(PayoutStatus.Sent, sent.Status);
        Assert.NotNull(sent.Invoice);
        Assert.True(fx.Lnd.Payments.ContainsKey(sent.PaymentHash!));
        // The invoice was asked for the payout less the fee limit (4,900); the route cost 3 sats (2.5 rounded up).
        Assert.Equal(4_900, sent.SentSats);
        Assert.Equal(3, sent.FeeSats);
        Assert.Equal(new AffiliateBalance(default, new(97), new(4_900)), await App.BalanceAsync(affiliate.Id));
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task AWrongAmountInvoiceFromALightningAddress_IsRefusedBeforePaying_AndTheMoneyGoesBack()
    {
        var affiliate = await App.AffiliateWithSalesAsync(1);
        var sends = fx.Lnd.SendRequests;
        fx.Lnurl.InvoiceAmountDeltaMsat = 1_000;
        try
        {
            var payout = await App.RequestAsync(affiliate.Id, 5_000, Address);
            await App.ProcessAsync();

            var failed = await App.GetPayoutAsync(payout.Id);
            Assert.Equal(PayoutStatus.Failed, failed.Status);
            Assert.Contains("msat", failed.FailureReason, StringComparison.Ordinal);
            Assert.Equal(sends, fx.Lnd.SendRequests); // LND was never asked to pay
            Assert.Equal(5_000, (await App.BalanceAsync(affiliate.Id)).Available.Value);
        }
        finally
        {
            fx.Lnurl.InvoiceAmountDeltaMsat = 0;
        }
    }

    [Fact]
    public async Task AFailedPayment_ReturnsTheMoneyToAvailable()
    {
        fx.Lnd.Next = FakeLndRouter.Ending.Fail;
        var affiliate = await App.AffiliateWithSalesAsync(1);
        var payout = await App.RequestAsync(affiliate.Id, null, Invoice(5_000, App.Clock.GetUtcNow()));

        await App.ProcessAsync();

        var failed = await App.GetPayoutAsync(payout.Id);
        Assert.Equal(PayoutStatus.Failed, failed.Status);
        Assert.Equal("LND: FAILURE_REASON_NO_ROUTE", failed.FailureReason);
        Assert.Equal(new AffiliateBalance(default, new(5_000), default), await App.BalanceAsync(affiliate.Id));
        Assert.Equal(1, await App.DbAsync(db => Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.CountAsync(
            db.OutboxMessages, m => m.DedupeKey == $"payout.failed:{payout.Id:D}", default)));
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task ATimeOut_LeavesThePayoutInFlight_ThenItReconcilesToSent_WithoutPayingTwice()
    {
        fx.Lnd.Next = FakeLndRouter.Ending.Hang;
        var affiliate = await App.AffiliateWithSalesAsync(1);
        var payout = await App.RequestAsync(affiliate.Id, null, Invoice(5_000, App.Clock.GetUtcNow()));

        await App.ProcessAsync(); // gives up waiting after Payouts:Lnd:TimeoutSeconds (+ margin)

        var inFlight = await App.GetPayoutAsync(payout.Id);
        Assert.Equal(PayoutStatus.Sending, inFlight.Status);
        Assert.Equal(5_000, await App.InFlightAsync(payout.Id));
        await App.ProcessAsync(); // not stale yet: untouched, not sent again
        Assert.Equal(1, (await App.GetPayoutAsync(payout.Id)).Attempts);

        App.Clock.Advance(TimeSpan.FromMinutes(2));
        await App.ProcessAsync(); // still in flight on the node: it stays so
        Assert.Equal(PayoutStatus.Sending, (await App.GetPayoutAsync(payout.Id)).Status);

        fx.Lnd.Complete(inFlight.PaymentHash!, succeed: true);
        await App.ProcessAsync();

        var sent = await App.GetPayoutAsync(payout.Id);
        Assert.Equal(PayoutStatus.Sent, sent.Status);
        Assert.Equal(1, sent.Attempts);
        Assert.Equal(new AffiliateBalance(default, default, new(5_000)), await App.BalanceAsync(affiliate.Id));
        Assert.Equal(3, sent.FeeSats); // a BOLT11 fixes the amount: the fee falls to the owner
        fx.Lnd.Next = FakeLndRouter.Ending.Succeed;
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task OnChainDestinations_AreRefusedByTheLndProvider()
    {
        var affiliate = await App.AffiliateWithSalesAsync(3);
        await RefusedAsync(() => App.RequestAsync(affiliate.Id, 12_000, OnchainAddress), "destination_unsupported", 422);
    }
}
