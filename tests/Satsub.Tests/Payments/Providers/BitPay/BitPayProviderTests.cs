using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NBitcoin;
using NBitcoin.Crypto;
using Satsub.Common;
using Satsub.Payments;
using Satsub.Payments.Providers.BitPay;

namespace Satsub.Tests.Payments.Providers.BitPay;

public sealed class BitPayProviderTests : IAsyncLifetime
{
    /// <summary>The paired client identity's key (a test key; the fake server knows only its public half).</summary>
    internal const string KeyHex = "1e99423a4ed27608a15a2616a2b0e9e52ced330ac530edcc32c8ffc6a526aedd";

    private const string NotificationUrl = "https://satsub.example/api/v1/webhooks/bitpay";

    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly FrozenClock clock = new(Now);
    private FakeBitPayServer server = null!;
    private ServiceProvider services = null!;

    public async Task InitializeAsync()
    {
        server = await FakeBitPayServer.StartAsync(new Key(Convert.FromHexString(KeyHex)).PubKey.ToHex());
        services = Build(Settings(server.BaseUrl));
    }

    public async Task DisposeAsync()
    {
        await services.DisposeAsync();
        await server.DisposeAsync();
    }

    internal static Dictionary<string, string?> Settings(string url) => new()
    {
        ["Payments:BitPay:Url"] = url,
        ["Payments:BitPay:Token"] = FakeBitPayServer.Token,
        ["Payments:BitPay:PrivateKey"] = KeyHex,
        ["Payments:BitPay:NotificationUrl"] = NotificationUrl,
        // Generous: a loaded CI machine must not turn a working call into a time-out (the time-out test sets its own).
        ["Payments:BitPay:TimeoutSeconds"] = "15",
    };

    internal ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var collection = new ServiceCollection();
        collection.AddSingleton<IConfiguration>(config);
        collection.AddLogging();
        collection.AddSingleton<TimeProvider>(clock);
        collection.AddBitPay();
        return collection.BuildServiceProvider();
    }

    private IPaymentProvider Provider => services.GetRequiredKeyedService<IPaymentProvider>("bitpay");

    private static InvoiceRequest Request(long sats = 12_345, FiatPrice? fiat = null, TimeSpan? expiresIn = null) =>
        new(Guid.Parse("5b0c7a52-3f43-4a4f-9a55-3c8c0b3b6f11"), new Sats(sats), PaymentMethod.Onchain, "basic",
            "Basic plan, 30 days", Now + (expiresIn ?? TimeSpan.FromMinutes(10)), fiat);

    [Fact]
    public async Task CreateInvoice_SendsTheDocumentedSignedRequest_AndReturnsBitPaysFigures()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);

        var sent = Assert.Single(server.Requests);
        Assert.Equal("POST", sent.Method);
        Assert.Equal("/invoices", sent.PathAndQuery);
        Assert.Equal("2.0.0", sent.Headers["x-accept-version"]);
        Assert.StartsWith("application/json", sent.Headers["content-type"], StringComparison.Ordinal);

        using var body = JsonDocument.Parse(sent.Body);
        var fields = body.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "acceptanceWindow", "currency", "extendedNotifications", "guid", "itemDesc", "notificationURL", "orderId", "paymentCurrencies", "price", "token" }, fields);
        Assert.Equal(FakeBitPayServer.Token, body.RootElement.GetProperty("token").GetString());
        Assert.Equal(0.00012345m, body.RootElement.GetProperty("price").GetDecimal());
        Assert.Equal("0.00012345", body.RootElement.GetProperty("price").GetRawText());
        Assert.Equal("BTC", body.RootElement.GetProperty("currency").GetString());
        Assert.Equal("5b0c7a52-3f43-4a4f-9a55-3c8c0b3b6f11", body.RootElement.GetProperty("orderId").GetString());
        Assert.Equal("5b0c7a52-3f43-4a4f-9a55-3c8c0b3b6f11", body.RootElement.GetProperty("guid").GetString());
        Assert.Equal(NotificationUrl, body.RootElement.GetProperty("notificationURL").GetString());
        Assert.Equal(600_000, body.RootElement.GetProperty("acceptanceWindow").GetInt64());
        Assert.Equal("[\"BTC\"]", body.RootElement.GetProperty("paymentCurrencies").GetRawText());
        Assert.True(body.RootElement.GetProperty("extendedNotifications").GetBoolean());

        // The signature, checked independently: the documented string is the full URL followed by the body.
        Assert.Equal(new Key(Convert.FromHexString(KeyHex)).PubKey.ToHex(), sent.Headers["x-identity"]);
        Assert.True(FakeBitPayServer.VerifySignature(sent.Headers["x-identity"], sent.Headers["x-signature"], server.BaseUrl + "/invoices" + sent.Body));
        Assert.True(VerifyWithNBitcoin(sent.Headers["x-identity"], sent.Headers["x-signature"], server.BaseUrl + "/invoices" + sent.Body));

        var stored = server.Invoice(invoice.ProviderInvoiceId);
        Assert.Equal(22, invoice.ProviderInvoiceId.Length);
        Assert.Equal($"bitcoin:?r={server.BaseUrl}/i/{invoice.ProviderInvoiceId}", invoice.PaymentUri);
        Assert.Null(invoice.Bolt11);
        Assert.Null(invoice.Address);
        Assert.Equal(new Sats(12_345 + FakeBitPayServer.NetworkFeeSats), invoice.Amount);
        Assert.Null(invoice.FiatRate);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds((long)stored["expirationTime"]!), invoice.ExpiresAt);
    }

    [Fact]
    public async Task CreateInvoice_ForAFiatPrice_InvoicesTheFiatAmount_AndRecordsBitPaysRate()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(fiat: new FiatPrice(10.00m, "usd"), expiresIn: TimeSpan.FromHours(1)), CancellationToken.None);

        using var body = JsonDocument.Parse(Assert.Single(server.Requests).Body);
        Assert.Equal("10.00", body.RootElement.GetProperty("price").GetRawText());
        Assert.Equal("USD", body.RootElement.GetProperty("currency").GetString());
        Assert.Equal(900_000, body.RootElement.GetProperty("acceptanceWindow").GetInt64()); // BitPay's maximum

        const long subtotal = 20_000; // 10 USD at 50,000 USD/BTC
        Assert.Equal(new Sats(subtotal + FakeBitPayServer.NetworkFeeSats), invoice.Amount);
        Assert.Equal(2_000m, invoice.FiatRate);
    }

    [Theory]
    [InlineData("new", null, ProviderInvoiceStatus.New, PaymentException.None)]
    [InlineData("new", "paidPartial", ProviderInvoiceStatus.New, PaymentException.PaidPartial)]
    [InlineData("paid", null, ProviderInvoiceStatus.Processing, PaymentException.None)]
    [InlineData("paid", "paidOver", ProviderInvoiceStatus.Processing, PaymentException.PaidOver)]
    [InlineData("confirmed", null, ProviderInvoiceStatus.Settled, PaymentException.None)]
    [InlineData("complete", null, ProviderInvoiceStatus.Settled, PaymentException.None)]
    [InlineData("complete", "paidOver", ProviderInvoiceStatus.Settled, PaymentException.PaidOver)]
    [InlineData("confirmed", "paidLate", ProviderInvoiceStatus.Settled, PaymentException.PaidLate)]
    [InlineData("expired", null, ProviderInvoiceStatus.Expired, PaymentException.None)]
    [InlineData("expired", "paidPartial", ProviderInvoiceStatus.Expired, PaymentException.PaidPartial)]
    [InlineData("invalid", null, ProviderInvoiceStatus.Invalid, PaymentException.None)]
    [InlineData("declined", null, ProviderInvoiceStatus.Invalid, PaymentException.None)]
    [InlineData("confirmed", "someNewException", ProviderInvoiceStatus.Settled, PaymentException.Invalid)]
    public async Task GetInvoice_MapsEachBitPayStatus(string status, string? exception, ProviderInvoiceStatus expected, PaymentException expectedException)
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        server.Set(invoice.ProviderInvoiceId, status, exception, amountPaid: 13_445);

        var state = await Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, CancellationToken.None);

        Assert.Equal(invoice.ProviderInvoiceId, state.ProviderInvoiceId);
        Assert.Equal(expected, state.Status);
        Assert.Equal(expectedException, state.Exception);
        Assert.Equal(new Sats(13_445), state.AmountPaid);
    }

    [Fact]
    public async Task GetInvoice_IsASignedGetWithTheTokenInTheQuery()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        var state = await Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, CancellationToken.None);

        Assert.Equal(ProviderInvoiceStatus.New, state.Status);
        Assert.Equal(new Sats(0), state.AmountPaid);
        var get = server.Requests.Last();
        Assert.Equal("GET", get.Method);
        Assert.Equal($"/invoices/{invoice.ProviderInvoiceId}?token={FakeBitPayServer.Token}", get.PathAndQuery);
        Assert.Equal("", get.Body);
        Assert.Equal("2.0.0", get.Headers["x-accept-version"]);
        Assert.StartsWith("application/json", get.Headers["content-type"], StringComparison.Ordinal);
        // A GET signs the full URL, query included, with an empty body.
        Assert.True(FakeBitPayServer.VerifySignature(get.Headers["x-identity"], get.Headers["x-signature"], get.FullUrl));
        Assert.True(VerifyWithNBitcoin(get.Headers["x-identity"], get.Headers["x-signature"], get.FullUrl));
    }

    [Fact]
    public async Task GetInvoice_OnlyConfirmedOrCompleteSettle_AlongTheRealSequence()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        var seen = new List<ProviderInvoiceStatus>();
        foreach (var status in new[] { "new", "paid", "confirmed", "complete" })
        {
            server.Set(invoice.ProviderInvoiceId, status);
            seen.Add((await Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, CancellationToken.None)).Status);
        }
        Assert.Equal(new[] { ProviderInvoiceStatus.New, ProviderInvoiceStatus.Processing, ProviderInvoiceStatus.Settled, ProviderInvoiceStatus.Settled }, seen);
    }

    [Fact]
    public async Task GetInvoice_AnUnknownStatus_IsNotGuessed()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        server.Set(invoice.ProviderInvoiceId, "refundPending");
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, CancellationToken.None));
    }

    [Theory]
    [InlineData("../tokens")]
    [InlineData("abc")]
    [InlineData("Hpqc63wvE1ZjzeeH4kEycF?token=x")]
    public async Task GetInvoice_RefusesAnIdOfTheWrongShape_WithoutACall(string id)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Provider.GetInvoiceAsync(id, CancellationToken.None));
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task CreateInvoice_WhenBitPayFails_IsUnavailable_AndThePostIsNotRetried()
    {
        server.Fail = true;
        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => Provider.CreateInvoiceAsync(Request(), CancellationToken.None));
        Assert.Equal("bitpay", ex.Provider);
        Assert.Equal(503, ex.Status);
        Assert.DoesNotContain(FakeBitPayServer.Token, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Internal Server Error", ex.Message, StringComparison.Ordinal);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task GetInvoice_WhenBitPayFails_IsRetried_ThenUnavailable()
    {
        var invoice = await Provider.CreateInvoiceAsync(Request(), CancellationToken.None);
        server.Fail = true;
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, CancellationToken.None));
        Assert.Equal(3, server.Requests.Count(r => r.Method == "GET"));
    }

    [Fact]
    public async Task CreateInvoice_WhenBitPayReportsAnErrorInA200_IsUnavailable()
    {
        server.FailInBody = true;
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => Provider.CreateInvoiceAsync(Request(), CancellationToken.None));
    }

    [Fact]
    public async Task CreateInvoice_WhenBitPayIsTooSlow_IsUnavailable()
    {
        server.Delay = TimeSpan.FromSeconds(4);
        var settings = Settings(server.BaseUrl);
        settings["Payments:BitPay:TimeoutSeconds"] = "1";
        using var impatient = Build(settings);
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(
            () => impatient.GetRequiredKeyedService<IPaymentProvider>("bitpay").CreateInvoiceAsync(Request(), CancellationToken.None));
    }

    [Fact]
    public async Task CreateInvoice_WhenBitPayIsUnreachable_IsUnavailable()
    {
        var url = server.BaseUrl;
        await server.DisposeAsync();
        server = await FakeBitPayServer.StartAsync("unused");
        using var other = Build(Settings(url));
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            other.GetRequiredKeyedService<IPaymentProvider>("bitpay").CreateInvoiceAsync(Request(), CancellationToken.None));
    }

    [Fact]
    public async Task CreateInvoice_SignedByAnUnpairedKey_IsRefusedByBitPay_AndUnavailable()
    {
        var settings = Settings(server.BaseUrl);
        settings["Payments:BitPay:PrivateKey"] = Convert.ToHexStringLower(new Key().ToBytes());
        using var unpaired = Build(settings);
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            unpaired.GetRequiredKeyedService<IPaymentProvider>("bitpay").CreateInvoiceAsync(Request(), CancellationToken.None));
        Assert.Equal(0, server.InvoiceCount); // the fake refused the signature: nothing was created
    }

    [Fact]
    public async Task CreateInvoice_WithThePrivateKeyInAFile_Works()
    {
        var path = Path.Combine(Path.GetTempPath(), $"satsub-bitpay-{Guid.NewGuid():N}.key");
        await File.WriteAllTextAsync(path, KeyHex + "\n");
        try
        {
            var settings = Settings(server.BaseUrl);
            settings.Remove("Payments:BitPay:PrivateKey");
            settings["Payments:BitPay:PrivateKeyPath"] = path;
            using var fromFile = Build(settings);
            var invoice = await fromFile.GetRequiredKeyedService<IPaymentProvider>("bitpay").CreateInvoiceAsync(Request(), CancellationToken.None);
            Assert.False(string.IsNullOrEmpty(invoice.ProviderInvoiceId));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Signer_FollowsBitPaysDocumentedExample_AndVerifiesIndependently()
    {
        // BitPay's "Making Requests" example: the string signed is the URL immediately followed by the body.
        var url = new Uri("https://bitpay.com/invoices");
        const string body = "{\"price\":500,\"currency\":\"USD\",\"token\":\"MqA2wX15qHCbG7FBtJZRAxQunrRjAvGBRVJedsiTnZY\"}";
        Assert.Equal("https://bitpay.com/invoices{\"price\":500,\"currency\":\"USD\",\"token\":\"MqA2wX15qHCbG7FBtJZRAxQunrRjAvGBRVJedsiTnZY\"}",
            BitPaySigner.SigningString(url, body));

        var signer = new BitPaySigner(new Key(Convert.FromHexString(KeyHex)));
        var signature = signer.Sign(url, body);
        Assert.True(FakeBitPayServer.VerifySignature(signer.Identity, signature, "https://bitpay.com/invoices" + body));
        Assert.True(VerifyWithNBitcoin(signer.Identity, signature, "https://bitpay.com/invoices" + body));

        // Anything else does not verify: another body, another URL, another key.
        Assert.False(FakeBitPayServer.VerifySignature(signer.Identity, signature, "https://bitpay.com/invoices" + body.Replace("500", "5", StringComparison.Ordinal)));
        Assert.False(FakeBitPayServer.VerifySignature(signer.Identity, signature, "https://test.bitpay.com/invoices" + body));
        Assert.False(FakeBitPayServer.VerifySignature(new Key().PubKey.ToHex(), signature, "https://bitpay.com/invoices" + body));
    }

    [Fact]
    public void Identity_IsTheHexCompressedPublicKey()
    {
        // Private key 1 has the generator G as its public key (SEC 2).
        var signer = new BitPaySigner(new Key(Convert.FromHexString("0000000000000000000000000000000000000000000000000000000000000001")));
        Assert.Equal("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", signer.Identity);
    }

    [Fact]
    public void Registration_ThroughAddPayments_RegistersTheProviderAndItsAuthenticator()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        var settings = Settings("https://test.bitpay.com");
        settings["Payments:Provider"] = "bitpay";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddPayments();
        using var host = builder.Build();

        var provider = host.Services.GetRequiredKeyedService<IPaymentProvider>("bitpay");
        Assert.IsType<BitPayPaymentProvider>(provider);
        Assert.True(provider.ConvertsFiat);
        Assert.Equal("bitpay", provider.Name);
        Assert.IsType<BitPayWebhookAuthenticator>(host.Services.GetRequiredKeyedService<IWebhookAuthenticator>("bitpay"));
        Assert.Same(provider, host.Services.GetRequiredService<PaymentProviders>().For(PaymentMethod.Lightning));
    }

    private static bool VerifyWithNBitcoin(string identity, string signatureHex, string message) =>
        new PubKey(identity).Verify(new uint256(SHA256.HashData(Encoding.UTF8.GetBytes(message))), ECDSASignature.FromDER(Convert.FromHexString(signatureHex)));
}

/// <summary>
/// "Now" is fixed, but timers run in real time: the HTTP resilience pipeline takes its delays from the same
/// <see cref="TimeProvider"/>, and a fake clock that never advances would stall its retries.
/// </summary>
internal sealed class FrozenClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
