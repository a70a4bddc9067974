using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using NBitcoin;
using Satsub.Common;
using Satsub.Payments;
using Satsub.Payments.Providers.BtcPay;

namespace Satsub.Tests.Payments.Providers.BtcPay;

public sealed class BtcPayProviderTests : IAsyncLifetime
{
    private BtcPayHarness h = null!;

    public async Task InitializeAsync() => h = await BtcPayHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task CreateInvoice_Lightning_AsksForBtcLnInBtcAndReturnsTheBolt11AndLinkUnchanged()
    {
        var request = BtcPayHarness.Request(10_000, PaymentMethod.Lightning);

        var created = await h.Provider.CreateInvoiceAsync(request, default);

        var invoice = h.Fake.Invoice(created.ProviderInvoiceId);
        var sent = invoice.Request;
        Assert.Equal("0.0001", (string?)sent["amount"]);
        Assert.Equal("BTC", (string?)sent["currency"]);
        Assert.Equal(request.InvoiceId.ToString("D"), (string?)sent["metadata"]!["orderId"]);
        Assert.Equal(["BTC-LN"], sent["checkout"]!["paymentMethods"]!.AsArray().Select(n => (string)n!));
        Assert.Equal("MediumSpeed", (string?)sent["checkout"]!["speedPolicy"]);
        Assert.Equal(30, (int)sent["checkout"]!["expirationMinutes"]!);
        Assert.False((bool)sent["checkout"]!["lazyPaymentMethods"]!);

        var method = Assert.Single(invoice.Methods);
        Assert.Equal(method.Destination, created.Bolt11);
        Assert.StartsWith("lnbcrt", created.Bolt11);
        Assert.Null(created.Address);
        Assert.Equal("lightning:" + method.Destination.ToUpperInvariant(), created.PaymentUri);
        Assert.Equal(new Sats(10_000), created.Amount);
        Assert.Null(created.FiatRate);
        Assert.Equal(invoice.ExpirationTime.ToUnixTimeSeconds(), created.ExpiresAt.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task CreateInvoice_OnChain_ReturnsTheAddressAndTheBip21LinkForTheDueWithTheStoresNetworkFee()
    {
        h.Fake.OnChainNetworkFee = 0.00000500m;

        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(25_001, PaymentMethod.Onchain), default);

        var invoice = h.Fake.Invoice(created.ProviderInvoiceId);
        Assert.Equal(["BTC-CHAIN"], invoice.Request["checkout"]!["paymentMethods"]!.AsArray().Select(n => (string)n!));
        Assert.Equal("0.00025001", (string?)invoice.Request["amount"]);
        var method = Assert.Single(invoice.Methods);
        Assert.Equal(method.Destination, created.Address);
        Assert.Null(created.Bolt11);
        Assert.Equal($"bitcoin:{method.Destination}?amount=0.00025501", created.PaymentUri); // what the buyer sends
        Assert.Equal(new Sats(25_001), created.Amount); // the sale
    }

    [Fact]
    public async Task CreateInvoice_FiatPlan_LetsBtcPayConvertAndRecordsItsAmountAndRate()
    {
        var request = BtcPayHarness.Request(15_000, PaymentMethod.Lightning, new FiatPrice(9.99m, "usd"));

        var created = await h.Provider.CreateInvoiceAsync(request, default);

        var invoice = h.Fake.Invoice(created.ProviderInvoiceId);
        Assert.Equal("9.99", (string?)invoice.Request["amount"]);
        Assert.Equal("USD", (string?)invoice.Request["currency"]);
        // BTCPay priced it to the millisatoshi (9.99 / 64392.23 = 0.00015514294… BTC); the buyer owes whole sats, rounded up.
        var method = Assert.Single(invoice.Methods);
        Assert.Equal(0.00015514295m, method.Amount);
        Assert.Equal(new Sats(15_515), created.Amount);
        Assert.Equal(1552.98240176m, created.FiatRate); // sats per dollar: 1e8 / 64392.23
    }

    [Theory]
    [InlineData("HighSpeed", "HighSpeed")]
    [InlineData("lowspeed", "LowSpeed")]
    [InlineData("LowMediumSpeed", "LowMediumSpeed")]
    public async Task CreateInvoice_SendsTheConfiguredSpeedPolicy(string setting, string sent)
    {
        await using var harness = await BtcPayHarness.StartAsync(settings: new Dictionary<string, string?> { ["Payments:BtcPay:SpeedPolicy"] = setting });

        var created = await harness.Provider.CreateInvoiceAsync(BtcPayHarness.Request(method: PaymentMethod.Onchain), default);

        Assert.Equal(sent, (string?)harness.Fake.Invoice(created.ProviderInvoiceId).Request["checkout"]!["speedPolicy"]);
    }

    [Fact]
    public async Task CreateInvoice_WhenTheStoreHasNotEnabledTheMethod_IsRefusedNamingIt()
    {
        h.Fake.EnabledMethods.Remove("BTC-LN");

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default));

        Assert.Equal("btcpay", ex.Provider);
        Assert.Contains("BTC-LN", ex.Message);
        Assert.Equal(503, ex.Status);
    }

    [Theory]
    [InlineData(PaymentMethod.Lightning)]
    [InlineData(PaymentMethod.Onchain)]
    public async Task CreateInvoice_FromAStoreOnAnotherNetwork_IsNeverShownToTheBuyer(PaymentMethod method)
    {
        // Satsub runs on mainnet; the store hands out regtest invoices and addresses.
        await using var harness = await BtcPayHarness.StartAsync(settings: new Dictionary<string, string?> { ["Bitcoin:Network"] = "mainnet" });

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => harness.Provider.CreateInvoiceAsync(BtcPayHarness.Request(method: method), default));

        Assert.Contains("another network than Bitcoin:Network mainnet", ex.Message);
    }

    [Fact]
    public async Task CreateInvoice_OnMainnet_AcceptsMainnetDestinations()
    {
        await using var harness = await BtcPayHarness.StartAsync(Network.Main);

        var ln = await harness.Provider.CreateInvoiceAsync(BtcPayHarness.Request(method: PaymentMethod.Lightning), default);
        var chain = await harness.Provider.CreateInvoiceAsync(BtcPayHarness.Request(method: PaymentMethod.Onchain), default);

        Assert.StartsWith("lnbc1", ln.Bolt11);
        Assert.StartsWith("bc1q", chain.Address);
    }

    [Fact]
    public async Task CreateInvoice_WithoutPaymentLinks_BuildsTheUriFromTheDestination()
    {
        h.Fake.PaymentLinks = false;
        h.Fake.OnChainNetworkFee = 0.000001m;

        var ln = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(method: PaymentMethod.Lightning), default);
        var chain = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(method: PaymentMethod.Onchain), default);

        Assert.Equal("lightning:" + ln.Bolt11, ln.PaymentUri);
        Assert.Equal($"bitcoin:{chain.Address}?amount=0.000101", chain.PaymentUri);
    }

    [Theory]
    [InlineData(PaymentMethod.Lightning)]
    [InlineData(PaymentMethod.Onchain)]
    public async Task CreateInvoice_WithADestinationSatsubCannotRead_PassesItOnAsBtcPayWroteIt(PaymentMethod method)
    {
        h.Fake.FixedDestination = "pay-me-somehow";

        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(method: method), default);

        Assert.Equal("pay-me-somehow", created.Bolt11 ?? created.Address);
    }

    [Fact]
    public async Task CreateInvoice_WhenBtcPayRefusesTheKey_SaysWhichSettingWithoutTheKey()
    {
        h.Fake.ApiKey = "another-key";

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default));

        Assert.Contains("401", ex.Message);
        Assert.Contains("Payments:BtcPay:ApiKey", ex.Message);
        Assert.DoesNotContain(FakeBtcPayServer.DefaultApiKey, ex.Message);
    }

    [Fact]
    public async Task CreateInvoice_WhenBtcPayRejectsTheRequest_IsUnavailableWithoutItsAnswer()
    {
        h.Fake.FailNext(HttpStatusCode.BadRequest, """[{"path":"currency","message":"No rate for BTC_XYZ"}]""");

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default));

        Assert.Equal("The payment provider 'btcpay' is unavailable: creating an invoice: BTCPay answered 400.", ex.Message);
    }

    [Fact]
    public async Task CreateInvoice_WhenBtcPayFails_IsUnavailableAndNotRetried()
    {
        // A retried POST could leave two invoices at BTCPay: creation is tried once.
        h.Fake.FailNext(HttpStatusCode.ServiceUnavailable, """{"code":"internal","message":"boom"}""");

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default));

        Assert.Contains("503", ex.Message);
        Assert.DoesNotContain("boom", ex.Message);
        Assert.Single(h.Fake.Exchanges, e => e.Method == "POST");
        Assert.Empty(h.Fake.Invoices);
    }

    [Fact]
    public async Task GetInvoice_AfterATransientFailure_IsRetried()
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default);
        h.Fake.FailNext(HttpStatusCode.ServiceUnavailable);

        var state = await h.Provider.GetInvoiceAsync(created.ProviderInvoiceId, default);

        Assert.Equal(ProviderInvoiceStatus.New, state.Status);
        Assert.Equal([503, 200], h.Fake.Exchanges.Where(e => e.PathAndQuery == "/api/v1/invoices/" + created.ProviderInvoiceId).Select(e => e.Status));
    }

    [Fact]
    public async Task GetInvoice_WhenBtcPayKeepsFailing_IsUnavailable()
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default);
        for (var i = 0; i < 3; i++) h.Fake.FailNext(HttpStatusCode.BadGateway);

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.GetInvoiceAsync(created.ProviderInvoiceId, default));

        Assert.Contains("502", ex.Message);
    }

    [Fact]
    public async Task CreateInvoice_WhenBtcPayIsSlowerThanTheTimeout_IsUnavailable()
    {
        await using var harness = await BtcPayHarness.StartAsync(settings: new Dictionary<string, string?> { ["Payments:BtcPay:TimeoutSeconds"] = "1" });
        harness.Fake.DelayNext(TimeSpan.FromSeconds(5));

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => harness.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default));

        Assert.Contains("BTCPay did not answer within 1 s (Payments:BtcPay:TimeoutSeconds)", ex.Message);
    }

    [Fact]
    public async Task CreateInvoice_WhenBtcPayCannotBeReached_IsUnavailable()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there any more
        await using var harness = await BtcPayHarness.StartAsync(settings: new Dictionary<string, string?> { ["Payments:BtcPay:Url"] = $"http://127.0.0.1:{port}/" });

        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => harness.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default));
    }

    [Fact]
    public async Task CreateInvoice_WhenTheCallerCancels_IsCancelledNotUnavailable()
    {
        h.Fake.DelayNext(TimeSpan.FromSeconds(5));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), cts.Token));
    }

    [Theory]
    [InlineData("New", "None", ProviderInvoiceStatus.New, PaymentException.None)]
    [InlineData("Processing", "None", ProviderInvoiceStatus.Processing, PaymentException.None)]
    [InlineData("Processing", "PaidOver", ProviderInvoiceStatus.Processing, PaymentException.PaidOver)]
    [InlineData("Settled", "None", ProviderInvoiceStatus.Settled, PaymentException.None)]
    [InlineData("Settled", "PaidOver", ProviderInvoiceStatus.Settled, PaymentException.PaidOver)]
    [InlineData("Settled", "Marked", ProviderInvoiceStatus.Settled, PaymentException.Marked)]
    [InlineData("Settled", "PaidLate", ProviderInvoiceStatus.Settled, PaymentException.PaidLate)]
    [InlineData("Expired", "None", ProviderInvoiceStatus.Expired, PaymentException.None)]
    [InlineData("Expired", "PaidPartial", ProviderInvoiceStatus.Expired, PaymentException.PaidPartial)]
    [InlineData("Expired", "PaidLate", ProviderInvoiceStatus.Expired, PaymentException.PaidLate)]
    [InlineData("Invalid", "None", ProviderInvoiceStatus.Invalid, PaymentException.None)]
    [InlineData("Invalid", "Marked", ProviderInvoiceStatus.Invalid, PaymentException.Marked)]
    [InlineData("Invalid", "Invalid", ProviderInvoiceStatus.Invalid, PaymentException.Invalid)]
    public async Task GetInvoice_MapsBtcPaysStatusAndAdditionalStatus(string status, string additional, ProviderInvoiceStatus expected, PaymentException exception)
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default);
        h.Fake.SetStatus(created.ProviderInvoiceId, status, additional);

        var state = await h.Provider.GetInvoiceAsync(created.ProviderInvoiceId, default);

        // The amount paid is read (a second request) only when there is an exception to report it with.
        Assert.Equal(new ProviderInvoiceState(created.ProviderInvoiceId, expected, exception, exception == PaymentException.None ? null : Sats.Zero), state);
    }

    [Fact]
    public async Task GetInvoice_ReportsWhatWasPaid_RoundingMillisatoshisDown()
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(10_000), default);
        h.Fake.Pay(created.ProviderInvoiceId, 0.00004000999m); // 4000.999 sats over Lightning
        h.Fake.SetStatus(created.ProviderInvoiceId, "Expired", "PaidPartial");

        var state = await h.Provider.GetInvoiceAsync(created.ProviderInvoiceId, default);

        Assert.Equal(new Sats(4_000), state.AmountPaid);
    }

    [Fact]
    public async Task GetInvoice_OverpaidOnChain_ReportsTheWholePayment()
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(10_000, PaymentMethod.Onchain), default);
        h.Fake.Pay(created.ProviderInvoiceId, 0.00012m, "BTC-CHAIN");
        h.Fake.SetStatus(created.ProviderInvoiceId, "Settled", "PaidOver");

        var state = await h.Provider.GetInvoiceAsync(created.ProviderInvoiceId, default);

        Assert.Equal(ProviderInvoiceStatus.Settled, state.Status);
        Assert.Equal(PaymentException.PaidOver, state.Exception);
        Assert.Equal(new Sats(12_000), state.AmountPaid);
    }

    [Fact]
    public async Task GetInvoice_OfAnotherStore_IsRefused()
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default);
        h.Fake.Invoice(created.ProviderInvoiceId).StoreId = "AnotherStore";

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.GetInvoiceAsync(created.ProviderInvoiceId, default));

        Assert.Contains("another store", ex.Message);
    }

    [Fact]
    public async Task GetInvoice_WithAStatusSatsubDoesNotKnow_CreditsNothing()
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default);
        h.Fake.SetStatus(created.ProviderInvoiceId, "Complete");

        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.GetInvoiceAsync(created.ProviderInvoiceId, default));
    }

    [Fact]
    public async Task GetInvoice_Unknown_IsUnavailable()
    {
        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.GetInvoiceAsync("NoSuchInvoice", default));

        Assert.Contains("404", ex.Message);
    }

    [Fact]
    public async Task GetInvoice_EscapesTheIdInThePath()
    {
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.GetInvoiceAsync("../stores/x", default));

        Assert.Equal("/api/v1/invoices/..%2Fstores%2Fx", h.Fake.Exchanges.Last().PathAndQuery);
    }

    [Fact]
    public void Provider_ConvertsFiatAndIsNamedBtcPay()
    {
        Assert.Equal("btcpay", h.Provider.Name);
        Assert.True(h.Provider.ConvertsFiat);
        Assert.IsType<BtcPayPaymentProvider>(h.Provider);
    }

    [Fact]
    public async Task Metadata_CarriesThePlanForTheMerchantsDashboard()
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default);

        var metadata = (JsonObject)h.Fake.Invoice(created.ProviderInvoiceId).Request["metadata"]!;
        Assert.Equal("basic", (string?)metadata["itemCode"]);
        Assert.Equal("Basic access", (string?)metadata["itemDesc"]);
    }
}
