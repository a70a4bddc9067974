using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Satsub.Payments;
using Satsub.Payments.Providers.BtcPay;

namespace Satsub.Tests.Payments.Providers.BtcPay;

public sealed class BtcPayWebhookTests : IAsyncLifetime
{
    private BtcPayHarness h = null!;

    public async Task InitializeAsync() => h = await BtcPayHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    private WebhookNotification? Authenticate(WebhookDelivery delivery) => Authenticate(delivery.Headers, delivery.Body);

    private WebhookNotification? Authenticate(IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers) dictionary[name] = value;
        return h.Authenticator.Authenticate(dictionary, body);
    }

    private async Task<string> InvoiceAsync() =>
        (await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default)).ProviderInvoiceId;

    [Theory]
    [InlineData("InvoiceSettled")]
    [InlineData("InvoiceProcessing")]
    [InlineData("InvoiceExpired")]
    [InlineData("InvoiceInvalid")]
    [InlineData("InvoiceReceivedPayment")]
    [InlineData("InvoicePaymentSettled")]
    [InlineData("InvoiceCreated")]
    public async Task Authenticate_SignedDelivery_GivesTheEventIdTheInvoiceAndTheType(string type)
    {
        var invoiceId = await InvoiceAsync();
        var delivery = h.Fake.CreateWebhook(type, invoiceId);

        var notification = Authenticate(delivery);

        Assert.Equal(new WebhookNotification(delivery.OriginalDeliveryId, invoiceId, type), notification);
    }

    [Fact]
    public async Task Authenticate_Redelivery_IsTheSameEvent()
    {
        var first = h.Fake.CreateWebhook("InvoiceSettled", await InvoiceAsync());
        var again = h.Fake.Redeliver(first);

        Assert.NotEqual(first.DeliveryId, again.DeliveryId);
        Assert.Equal(Authenticate(first)!.EventId, Authenticate(again)!.EventId);
        Assert.Equal(first.DeliveryId, Authenticate(again)!.EventId);
    }

    [Fact]
    public async Task Authenticate_WithoutOriginalDeliveryId_UsesTheDeliveryId()
    {
        var delivery = h.Fake.CreateWebhook("InvoiceSettled", await InvoiceAsync(), body => body.Remove("originalDeliveryId"));

        Assert.Equal(delivery.DeliveryId, Authenticate(delivery)!.EventId);
    }

    [Fact]
    public void Authenticate_EventAboutNoInvoice_HasNoInvoiceId()
    {
        var delivery = h.Fake.CreateWebhook("PayoutCreated", "x", body =>
        {
            body.Remove("invoiceId");
            body["payoutId"] = "Payout1";
        });

        var notification = Authenticate(delivery);

        Assert.NotNull(notification);
        Assert.Null(notification.ProviderInvoiceId);
        Assert.Equal("PayoutCreated", notification.Kind);
    }

    [Fact]
    public async Task Authenticate_TamperedBody_IsRefused()
    {
        var invoiceId = await InvoiceAsync();
        var delivery = h.Fake.CreateWebhook("InvoiceSettled", invoiceId);
        var otherInvoice = await InvoiceAsync();
        var tampered = Encoding.UTF8.GetBytes(delivery.BodyText.Replace(invoiceId, otherInvoice, StringComparison.Ordinal));
        Assert.NotEqual(delivery.Body, tampered);

        Assert.Null(Authenticate(delivery.Headers, tampered));
    }

    [Fact]
    public async Task Authenticate_TheSameJsonWrittenDifferently_IsRefused()
    {
        // The signature covers the bytes, not the meaning: re-serializing the body breaks it.
        var delivery = h.Fake.CreateWebhook("InvoiceSettled", await InvoiceAsync());
        var compact = Encoding.UTF8.GetBytes(JsonNode.Parse(delivery.Body)!.ToJsonString());

        Assert.NotNull(Authenticate(delivery));
        Assert.Null(Authenticate(delivery.Headers, compact));
    }

    [Fact]
    public async Task Authenticate_SignedWithAnotherSecret_IsRefused()
    {
        h.Fake.WebhookSecret = "not-the-configured-secret";

        Assert.Null(Authenticate(h.Fake.CreateWebhook("InvoiceSettled", await InvoiceAsync())));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sha256=")]
    [InlineData("sha1=0123456789abcdef0123456789abcdef01234567")]
    [InlineData("sha256=zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("sha256=0123456789abcdef")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public async Task Authenticate_MissingOrMalformedSignature_IsRefused(string? signature)
    {
        var delivery = h.Fake.CreateWebhook("InvoiceSettled", await InvoiceAsync());
        var headers = delivery.Headers.Where(kv => kv.Key != "BTCPay-Sig").ToDictionary();
        if (signature is not null) headers["BTCPay-Sig"] = signature;

        Assert.Null(Authenticate(headers, delivery.Body));
    }

    [Fact]
    public async Task Authenticate_TwoSignatureHeaders_IsRefused()
    {
        var delivery = h.Fake.CreateWebhook("InvoiceSettled", await InvoiceAsync());
        var headers = new HeaderDictionary { ["BTCPay-Sig"] = new StringValues([delivery.Headers["BTCPay-Sig"], "sha256=00"]) };

        Assert.Null(h.Authenticator.Authenticate(headers, delivery.Body));
    }

    [Fact]
    public async Task Authenticate_UppercaseHexOrHeaderName_IsTheSameSignature()
    {
        var delivery = h.Fake.CreateWebhook("InvoiceSettled", await InvoiceAsync());
        var headers = new HeaderDictionary { ["btcpay-sig"] = "sha256=" + delivery.Headers["BTCPay-Sig"]["sha256=".Length..].ToUpperInvariant() };

        Assert.NotNull(h.Authenticator.Authenticate(headers, delivery.Body));
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"deliveryId\":\"abc\"}")]           // no type
    [InlineData("{\"type\":\"InvoiceSettled\"}")]      // no delivery id
    [InlineData("{\"deliveryId\":\"abc\",\"type\":\"InvoiceSettled\"")] // cut short
    public void Authenticate_SignedButNotADelivery_IsRefusedWithoutThrowing(string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var headers = new Dictionary<string, string> { ["BTCPay-Sig"] = FakeBtcPayServer.Signature(bytes, h.Fake.WebhookSecret) };

        Assert.Null(Authenticate(headers, bytes));
    }

    [Fact]
    public void Authenticate_IgnoresNestedFieldsWithTheSameNames()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"payment":{"deliveryId":"inner","invoiceId":"inner","type":"inner"},"deliveryId":"outer","type":"InvoiceSettled","invoiceId":"Inv1","metadata":[{"type":"x"}]}""");
        var headers = new Dictionary<string, string> { ["BTCPay-Sig"] = FakeBtcPayServer.Signature(bytes, h.Fake.WebhookSecret) };

        Assert.Equal(new WebhookNotification("outer", "Inv1", "InvoiceSettled"), Authenticate(headers, bytes));
    }

    /// <summary>Vectors computed outside .NET (Python's hmac): <c>hmac.new(secret.encode(), body, sha256).hexdigest()</c>.</summary>
    [Theory]
    [InlineData("whsec-satsub-test",
        """{"deliveryId":"Q6cwNYNPvWeiA8TrQYoXgY","webhookId":"GRbTsGd5bwS1Dx7KZsyvxv","originalDeliveryId":"Q6cwNYNPvWeiA8TrQYoXgY","isRedelivery":false,"type":"InvoiceSettled","timestamp":1764300000,"storeId":"9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776","invoiceId":"HMprBnL9BTXWuPvpoKBS6e","metadata":{"orderId":"0199b8a4-7d7e-7c4c-9a8e-1f2d3c4b5a69"},"manuallyMarked":false,"overPaid":false}""",
        "e447ccaabc5a992eacac601876f7eb62bb18f4efb74a5691cb48417fa9b99756")]
    [InlineData("s3cr3t-\u00e9", "{}", "bf26f2ed2fa26fd768c888f73f2431ec0194d9340cdbf3a9680474b28590bbbf")] // the secret is UTF-8
    public void Authenticate_IndependentVectors(string secret, string body, string hex)
    {
        var bytes = Encoding.UTF8.GetBytes(body);

        Assert.True(BtcPayWebhookAuthenticator.IsSigned("sha256=" + hex, bytes, secret));
        Assert.False(BtcPayWebhookAuthenticator.IsSigned("sha256=" + hex, bytes, secret + "x"));
        Assert.False(BtcPayWebhookAuthenticator.IsSigned("sha256=" + hex, [.. bytes, (byte)' '], secret));
    }

    [Fact]
    public void Authenticate_IndependentVector_ThroughTheRegisteredAuthenticator()
    {
        var body = Encoding.UTF8.GetBytes("""{"deliveryId":"Q6cwNYNPvWeiA8TrQYoXgY","webhookId":"GRbTsGd5bwS1Dx7KZsyvxv","originalDeliveryId":"Q6cwNYNPvWeiA8TrQYoXgY","isRedelivery":false,"type":"InvoiceSettled","timestamp":1764300000,"storeId":"9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776","invoiceId":"HMprBnL9BTXWuPvpoKBS6e","metadata":{"orderId":"0199b8a4-7d7e-7c4c-9a8e-1f2d3c4b5a69"},"manuallyMarked":false,"overPaid":false}""");
        using var host = BtcPayHarness.BuildHost(new Dictionary<string, string?>
        {
            ["Payments:Provider"] = "btcpay",
            ["Payments:BtcPay:Url"] = "https://btcpay.example.com",
            ["Payments:BtcPay:ApiKey"] = "key",
            ["Payments:BtcPay:StoreId"] = "9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776",
            ["Payments:BtcPay:WebhookSecret"] = "whsec-satsub-test",
        });
        var authenticator = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<PaymentProviders>(host.Services).WebhookAuthenticator("btcpay")!;
        var headers = new HeaderDictionary { ["BTCPay-Sig"] = "sha256=e447ccaabc5a992eacac601876f7eb62bb18f4efb74a5691cb48417fa9b99756" };

        Assert.Equal(new WebhookNotification("Q6cwNYNPvWeiA8TrQYoXgY", "HMprBnL9BTXWuPvpoKBS6e", "InvoiceSettled"), authenticator.Authenticate(headers, body));
    }

    [Fact]
    public void Signature_MatchesBtcPaysDocumentedRecipe()
    {
        // sha256=HMAC256(UTF8(webhook's secret), body), lowercase hex, computed independently of the code under test.
        var body = Encoding.UTF8.GetBytes("{\"type\":\"InvoiceSettled\"}");
        using var hmac = new System.Security.Cryptography.HMACSHA256(Encoding.UTF8.GetBytes("s3cr3t"));
        var expected = "sha256=" + string.Concat(hmac.ComputeHash(body).Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(expected, FakeBtcPayServer.Signature(body, "s3cr3t"));
        Assert.True(BtcPayWebhookAuthenticator.IsSigned(expected, body, "s3cr3t"));
        Assert.False(BtcPayWebhookAuthenticator.IsSigned(expected, body, "s3cr3t "));
    }

    [Fact]
    public async Task SendWebhook_PostsTheExactBytesAndHeaders()
    {
        // The lead's endpoint test posts deliveries the same way; here the fake itself receives one.
        var delivery = h.Fake.CreateWebhook("InvoiceSettled", await InvoiceAsync());
        using var client = new HttpClient();

        using var response = await FakeBtcPayServer.SendWebhookAsync(client, new Uri(h.Fake.Url, "satsub-webhook"), delivery);

        var received = h.Fake.Exchanges.Last();
        Assert.Equal("POST", received.Method);
        Assert.Equal(delivery.Body, received.Body);
        Assert.Equal(delivery.Headers["BTCPay-Sig"], received.Headers["BTCPay-Sig"]);
        Assert.Equal("application/json; charset=utf-8", received.Headers["Content-Type"]);
    }
}
