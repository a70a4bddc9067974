using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Satsub.Common;
using Satsub.Payments;
using Satsub.Payments.Providers.OpenNode;

namespace Satsub.Tests.Payments.Providers.OpenNode;

public sealed class OpenNodeProviderTests : IAsyncLifetime
{
    internal const string CallbackUrl = "https://satsub.example/api/v1/webhooks/opennode";

    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private FakeOpenNodeServer server = null!;
    private ServiceProvider services = null!;

    public async Task InitializeAsync()
    {
        server = await FakeOpenNodeServer.StartAsync();
        services = Build(Settings(server.BaseUrl));
    }

    public async Task DisposeAsync()
    {
        await services.DisposeAsync();
        await server.DisposeAsync();
    }

    internal static Dictionary<string, string?> Settings(string url) => new()
    {
        ["Payments:OpenNode:Url"] = url,
        ["Payments:OpenNode:ApiKey"] = FakeOpenNodeServer.ApiKey,
        ["Payments:OpenNode:CallbackUrl"] = CallbackUrl,
        // Generous: a loaded CI machine must not turn a working call into a time-out (the time-out test sets its own).
        ["Payments:OpenNode:TimeoutSeconds"] = "15",
    };

    internal static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(config);
        collection.AddLogging();
        collection.AddSingleton<TimeProvider>(new FixedNow(Now));
        collection.AddOpenNode();
        return collection.BuildServiceProvider();
    }

    private IPaymentProvider Provider => services.GetRequiredKeyedService<IPaymentProvider>("opennode");

    private static InvoiceRequest Request(PaymentMethod method = PaymentMethod.Lightning, long sats = 25_000, FiatPrice? fiat = null, TimeSpan? expiresIn = null) =>
        new(Guid.Parse("0c1f4a3e-8a55-4d55-b2a4-55b7a0f6d1c2"), new Sats(sats), method, "basic",
            "Basic plan, 30 days", Now + (expiresIn ?? TimeSpan.FromMinutes(30)), fiat);

    [Fact]
    public async Task CreateCharge_SendsTheDocumentedRequest_AndReturnsTheInvoiceAsOpenNodeGaveIt()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);

        var sent = Assert.Single(server.Requests);
        Assert.Equal("POST", sent.Method);
        Assert.Equal("/v1/charges", sent.Path);
        Assert.Equal(FakeOpenNodeServer.ApiKey, sent.Headers["authorization"]);
        Assert.StartsWith("application/json", sent.Headers["content-type"], StringComparison.Ordinal);

        using var body = JsonDocument.Parse(sent.Body);
        var fields = body.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "amount", "auto_settle", "callback_url", "description", "order_id", "ttl" }, fields);
        Assert.Equal("25000", body.RootElement.GetProperty("amount").GetRawText()); // satoshis: no currency
        Assert.False(body.RootElement.GetProperty("auto_settle").GetBoolean());
        Assert.Equal(CallbackUrl, body.RootElement.GetProperty("callback_url").GetString());
        Assert.Equal("0c1f4a3e-8a55-4d55-b2a4-55b7a0f6d1c2", body.RootElement.GetProperty("order_id").GetString());
        Assert.Equal("Basic plan, 30 days", body.RootElement.GetProperty("description").GetString());
        Assert.Equal(30, body.RootElement.GetProperty("ttl").GetInt32());

        var charge = server.Charge(invoice.ProviderInvoiceId);
        Assert.Equal((string)charge["lightning_invoice"]!["payreq"]!, invoice.Bolt11);
        Assert.Equal((string)charge["chain_invoice"]!["address"]!, invoice.Address);
        Assert.Equal("lightning:" + invoice.Bolt11, invoice.PaymentUri);
        Assert.Equal(new Sats(25_000), invoice.Amount);
        Assert.Null(invoice.FiatRate);
        Assert.Equal(Now.AddMinutes(30), invoice.ExpiresAt);
    }

    [Fact]
    public async Task CreateCharge_OnChain_GivesABip21UriWithTheExactAmount()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(PaymentMethod.Onchain, sats: 123_456), CancellationToken.None);
        Assert.Equal($"bitcoin:{invoice.Address}?amount=0.00123456", invoice.PaymentUri);
    }

    [Fact]
    public async Task CreateCharge_ForAFiatPrice_SendsTheFiatAmountAndCurrency_AndRecordsTheRate()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(fiat: new FiatPrice(10.50m, "usd")), CancellationToken.None);

        using var body = JsonDocument.Parse(Assert.Single(server.Requests).Body);
        Assert.Equal("10.50", body.RootElement.GetProperty("amount").GetRawText());
        Assert.Equal("USD", body.RootElement.GetProperty("currency").GetString());
        Assert.Equal(new Sats(26_250), invoice.Amount); // 10.50 USD at 40,000 USD/BTC
        Assert.Equal(2_500m, invoice.FiatRate);
    }

    [Theory]
    [InlineData(5, 10)]      // OpenNode's minimum
    [InlineData(10, 10)]
    [InlineData(90.9, 90)]   // whole minutes, never past our own expiry
    [InlineData(3000, 1440)] // OpenNode's maximum
    public async Task CreateCharge_TtlIsWithinOpenNodesBounds(double minutes, int ttl)
    {
        await Provider.CreateInvoiceAsync(Request(expiresIn: TimeSpan.FromMinutes(minutes)), CancellationToken.None);
        using var body = JsonDocument.Parse(Assert.Single(server.Requests).Body);
        Assert.Equal(ttl, body.RootElement.GetProperty("ttl").GetInt32());
    }

    [Theory]
    [InlineData("unpaid", null, ProviderInvoiceStatus.New, PaymentException.None, null)]
    [InlineData("processing", null, ProviderInvoiceStatus.Processing, PaymentException.None, null)]
    [InlineData("paid", null, ProviderInvoiceStatus.Settled, PaymentException.None, 25_000L)]
    [InlineData("underpaid", 5_000L, ProviderInvoiceStatus.New, PaymentException.PaidPartial, 20_000L)]
    [InlineData("expired", null, ProviderInvoiceStatus.Expired, PaymentException.None, null)]
    [InlineData("expired", 5_000L, ProviderInvoiceStatus.Expired, PaymentException.PaidPartial, 20_000L)]
    [InlineData("refunded", 5_000L, ProviderInvoiceStatus.Invalid, PaymentException.PaidPartial, null)]
    public async Task GetCharge_MapsEachOpenNodeStatus(string status, long? missing, ProviderInvoiceStatus expected, PaymentException exception, long? paid)
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        server.Set(invoice.ProviderInvoiceId, status, missing);

        var state = await Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, CancellationToken.None);

        Assert.Equal(invoice.ProviderInvoiceId, state.ProviderInvoiceId);
        Assert.Equal(expected, state.Status);
        Assert.Equal(exception, state.Exception);
        Assert.Equal(paid is null ? null : new Sats(paid.Value), state.AmountPaid);
        var get = server.Requests.Last();
        Assert.Equal("GET", get.Method);
        Assert.Equal("/v1/charge/" + invoice.ProviderInvoiceId, get.Path);
        Assert.Equal(FakeOpenNodeServer.ApiKey, get.Headers["authorization"]);
    }

    [Fact]
    public async Task GetCharge_AnUnknownStatus_IsNotGuessed()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        server.Set(invoice.ProviderInvoiceId, "disputed");
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, CancellationToken.None));
    }

    [Theory]
    [InlineData("../charges")]
    [InlineData("abc")]
    [InlineData("0c1f4a3e-8a55-4d55-b2a4-55b7a0f6d1c2?x=1")]
    public async Task GetCharge_RefusesAnIdOfTheWrongShape_WithoutACall(string id)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Provider.GetInvoiceAsync(id, CancellationToken.None));
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task CreateCharge_WhenOpenNodeFails_IsUnavailable_AndThePostIsNotRetried()
    {
        server.Fail = true;
        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => Provider.CreateInvoiceAsync(Request(), CancellationToken.None));
        Assert.Equal("opennode", ex.Provider);
        Assert.Equal(503, ex.Status);
        Assert.DoesNotContain(FakeOpenNodeServer.ApiKey, ex.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
        Assert.Equal(0, server.ChargeCount);
    }

    [Fact]
    public async Task GetCharge_WhenOpenNodeFails_IsRetried_ThenUnavailable()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        server.Fail = true;
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, CancellationToken.None));
        Assert.Equal(3, server.Requests.Count(r => r.Method == "GET"));
    }

    [Fact]
    public async Task CreateCharge_WhenOpenNodeIsTooSlow_IsUnavailable()
    {
        server.Delay = TimeSpan.FromSeconds(4);
        var settings = Settings(server.BaseUrl);
        settings["Payments:OpenNode:TimeoutSeconds"] = "1";
        using var impatient = Build(settings);
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(
            () => impatient.GetRequiredKeyedService<IPaymentProvider>("opennode").CreateInvoiceAsync(Request(), CancellationToken.None));
    }

    [Fact]
    public async Task CreateCharge_WithAWrongApiKey_IsUnavailable()
    {
        var settings = Settings(server.BaseUrl);
        settings["Payments:OpenNode:ApiKey"] = "revoked-key";
        using var other = Build(settings);
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            other.GetRequiredKeyedService<IPaymentProvider>("opennode").CreateInvoiceAsync(Request(), CancellationToken.None));
        Assert.Equal(0, server.ChargeCount);
    }

    [Fact]
    public async Task CreateCharge_WhenOpenNodeIsUnreachable_IsUnavailable()
    {
        var url = server.BaseUrl;
        await server.DisposeAsync();
        server = await FakeOpenNodeServer.StartAsync();
        using var other = Build(Settings(url));
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            other.GetRequiredKeyedService<IPaymentProvider>("opennode").CreateInvoiceAsync(Request(), CancellationToken.None));
    }

    [Fact]
    public async Task AVerifiedWebhook_PointsAtTheChargeToReFetch()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        server.Set(invoice.ProviderInvoiceId, "paid");
        var authenticator = services.GetRequiredKeyedService<IWebhookAuthenticator>("opennode");

        var form = FakeOpenNodeServer.WebhookForm(invoice.ProviderInvoiceId, "paid", "0c1f4a3e-8a55-4d55-b2a4-55b7a0f6d1c2");
        var notification = authenticator.Authenticate(OpenNodeWebhookTests.FormHeaders(), System.Text.Encoding.UTF8.GetBytes(form));

        Assert.NotNull(notification);
        Assert.Equal(invoice.ProviderInvoiceId, notification.ProviderInvoiceId);
        var state = await Provider.GetInvoiceAsync(notification.ProviderInvoiceId!, CancellationToken.None);
        Assert.Equal(ProviderInvoiceStatus.Settled, state.Status);
    }

    [Fact]
    public void Registration_ThroughAddPayments_RegistersTheProviderAndItsAuthenticator()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        var settings = Settings("https://dev-api.opennode.com");
        settings["Payments:Provider"] = "opennode";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddPayments();
        using var host = builder.Build();

        var provider = host.Services.GetRequiredKeyedService<IPaymentProvider>("opennode");
        Assert.IsType<OpenNodePaymentProvider>(provider);
        Assert.True(provider.ConvertsFiat);
        Assert.Equal("opennode", provider.Name);
        Assert.IsType<OpenNodeWebhookAuthenticator>(host.Services.GetRequiredKeyedService<IWebhookAuthenticator>("opennode"));
        Assert.Same(provider, host.Services.GetRequiredService<PaymentProviders>().For(PaymentMethod.Onchain));
    }
}

/// <summary>A fixed "now" with real timers (the HTTP retry pipeline waits on this provider's timers).</summary>
internal sealed class FixedNow(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
