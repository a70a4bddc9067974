using System.Text;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Satsub.Payments.Providers.BitPay;

namespace Satsub.Tests.Payments.Providers.BitPay;

public sealed class BitPayWebhookTests
{
    private static readonly BitPayWebhookAuthenticator Authenticator = new();

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    // BitPay's extended IPN format (what Satsub asks for with extendedNotifications).
    private const string Extended = """
        {"event":{"code":1005,"name":"invoice_confirmed"},
         "data":{"id":"Hpqc63wvE1ZjzeeH4kEycF","url":"https://bitpay.com/invoice?id=Hpqc63wvE1ZjzeeH4kEycF","status":"confirmed",
                 "price":10,"currency":"USD","invoiceTime":1620669854224,"expirationTime":1620670754224,"currentTime":1620671313184,
                 "exceptionStatus":false,"paymentTotals":{"BTC":29800,"PAX":10000000000000000000}}}
        """;

    // BitPay's standard IPN format.
    private const string Standard = """
        {"id":"Hpqc62dfE1ZjzeeH4kEycF","url":"https://bitpay.com/invoice?id=Hpqc62dfE1ZjzeeH4kEycF","status":"confirmed","price":10,
         "currency":"USD","invoiceTime":1620669854224,"expirationTime":1620670754224,"currentTime":1620671313184,"exceptionStatus":false}
        """;

    [Fact]
    public void ExtendedNotification_GivesTheInvoiceId_AndAnEventIdPerEventCode()
    {
        var n = Authenticator.Authenticate(new HeaderDictionary(), Utf8(Extended));
        Assert.NotNull(n);
        Assert.Equal("Hpqc63wvE1ZjzeeH4kEycF", n.ProviderInvoiceId);
        Assert.Equal("bitpay:Hpqc63wvE1ZjzeeH4kEycF:1005", n.EventId);
        Assert.Equal("invoice_confirmed", n.Kind);
    }

    [Fact]
    public void StandardNotification_GivesTheInvoiceId_AndAnEventIdPerStatus()
    {
        var n = Authenticator.Authenticate(new HeaderDictionary(), Utf8(Standard));
        Assert.NotNull(n);
        Assert.Equal("Hpqc62dfE1ZjzeeH4kEycF", n.ProviderInvoiceId);
        Assert.Equal("bitpay:Hpqc62dfE1ZjzeeH4kEycF:confirmed", n.EventId);
        Assert.Equal("confirmed", n.Kind);
    }

    [Fact]
    public void Redelivery_OfTheSameEvent_HasTheSameEventId_AnotherStatusAnotherId()
    {
        var first = Authenticator.Authenticate(new HeaderDictionary(), Utf8(Extended))!;
        var again = Authenticator.Authenticate(new HeaderDictionary(), Utf8(Extended.Replace("1620671313184", "1620671999999", StringComparison.Ordinal)))!;
        var completed = Authenticator.Authenticate(new HeaderDictionary(), Utf8(Extended
            .Replace("1005", "1006", StringComparison.Ordinal).Replace("invoice_confirmed", "invoice_completed", StringComparison.Ordinal)))!;
        Assert.Equal(first.EventId, again.EventId);
        Assert.NotEqual(first.EventId, completed.EventId);
        Assert.Equal(first.ProviderInvoiceId, completed.ProviderInvoiceId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("\"Hpqc63wvE1ZjzeeH4kEycF\"")]
    [InlineData("{}")]
    [InlineData("{\"status\":\"confirmed\"}")]
    [InlineData("{\"id\":12345678901,\"status\":\"confirmed\"}")]
    [InlineData("{\"id\":\"../../admin\",\"status\":\"confirmed\"}")]
    [InlineData("{\"id\":\"short\",\"status\":\"confirmed\"}")]
    [InlineData("{\"data\":{\"id\":\"Hpqc63wvE1ZjzeeH4kEycF/x\"}}")]
    [InlineData("{\"id\":\"Hpqc63wvE1ZjzeeH4kEycF\"")]
    public void GarbledOrIdlessNotifications_AreRefused(string body) =>
        Assert.Null(Authenticator.Authenticate(new HeaderDictionary(), Utf8(body)));

    [Fact]
    public void AnOversizedBody_IsRefused_WithoutParsing()
    {
        var padding = new string(' ', BitPayWebhookAuthenticator.MaxBodyBytes);
        Assert.Null(Authenticator.Authenticate(new HeaderDictionary(), Utf8(Standard + padding)));
    }

    [Fact]
    public void ArbitraryBytes_AreRefusedOrRead_NeverThrow()
    {
        Gen.Byte.Array[0, 512].Sample(bytes => { Authenticator.Authenticate(new HeaderDictionary(), bytes); });
        Gen.String[Gen.Char["{}[]\":,.-_ 019eEidatusnlfrHpqc"], 0, 300].Sample(text => { Authenticator.Authenticate(new HeaderDictionary(), Utf8(text)); });
    }

    [Fact]
    public void AnyRedeliveryOfAnEvent_HasOneEventId() =>
        // Property: whatever BitPay's volatile fields say on a redelivery (times, totals, extra fields), the id is the same.
        Gen.Select(Gen.Long[0, 4_000_000_000_000], Gen.Long[0, Satsub.Common.Sats.MaxMoney], Gen.String[Gen.Char.AlphaNumeric, 1, 20], Gen.Int[1003, 1019])
            .Sample((time, total, extra, code) =>
            {
                var body = $$$"""{"event":{"code":{{{code}}},"name":"invoice_x"},"data":{"id":"Hpqc63wvE1ZjzeeH4kEycF","status":"paid","currentTime":{{{time}}},"paymentTotals":{"BTC":{{{total}}}},"x_{{{extra}}}":"{{{extra}}}"}}""";
                return Authenticator.Authenticate(new HeaderDictionary(), Utf8(body))?.EventId == $"bitpay:Hpqc63wvE1ZjzeeH4kEycF:{code}";
            });

    [Fact]
    public void UntrustedWords_DoNotReachTheEventId()
    {
        var n = Authenticator.Authenticate(new HeaderDictionary(),
            Utf8("{\"event\":{\"code\":\"x\",\"name\":\"a b\\nc\"},\"data\":{\"id\":\"Hpqc63wvE1ZjzeeH4kEycF\",\"status\":\"conf:irmed\"}}"));
        Assert.NotNull(n);
        Assert.Equal("bitpay:Hpqc63wvE1ZjzeeH4kEycF:notification", n.EventId);
        Assert.Equal("invoice", n.Kind);
    }
}

public sealed class BitPayOptionsTests
{
    private static IReadOnlyList<string> Failures(Dictionary<string, string?> settings)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(config).AddLogging();
        services.AddBitPay();
        using var sp = services.BuildServiceProvider();
        try
        {
            _ = sp.GetRequiredService<IOptions<BitPayOptions>>().Value;
            return [];
        }
        catch (OptionsValidationException ex)
        {
            return ex.Failures.ToList();
        }
    }

    private static Dictionary<string, string?> Valid() => BitPayProviderTests.Settings("https://test.bitpay.com");

    [Fact]
    public void ValidSettings_Pass() => Assert.Empty(Failures(Valid()));

    [Fact]
    public void NothingSet_NamesEveryRequiredKey()
    {
        var failures = Failures(new Dictionary<string, string?>());
        Assert.Contains(failures, f => f.StartsWith("Payments:BitPay:Url is required when the bitpay provider is selected", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payments:BitPay:Token is required", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payments:BitPay:PrivateKey (or Payments:BitPay:PrivateKeyPath) is required", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payments:BitPay:NotificationUrl is required", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Payments:BitPay:Url", "http://bitpay.com", "Payments:BitPay:Url must use https")]
    [InlineData("Payments:BitPay:Url", "not a url", "Payments:BitPay:Url must be an absolute https URL")]
    [InlineData("Payments:BitPay:Url", "https://bitpay.com/invoices", "Payments:BitPay:Url must be the server's root")]
    [InlineData("Payments:BitPay:Url", "https://user:pw@bitpay.com", "Payments:BitPay:Url must carry no user info")]
    [InlineData("Payments:BitPay:NotificationUrl", "http://satsub.example/api/v1/webhooks/bitpay", "Payments:BitPay:NotificationUrl must use https")]
    [InlineData("Payments:BitPay:PrivateKey", "abcd", "Payments:BitPay:PrivateKey must be a 64-character hex secp256k1 private key")]
    [InlineData("Payments:BitPay:PrivateKey", "0000000000000000000000000000000000000000000000000000000000000000", "Payments:BitPay:PrivateKey must be a 64-character hex")]
    [InlineData("Payments:BitPay:PrivateKeyPath", "/nonexistent/bitpay.key", "Payments:BitPay:PrivateKey and Payments:BitPay:PrivateKeyPath are both set")]
    [InlineData("Payments:BitPay:TimeoutSeconds", "0", "Payments:BitPay:TimeoutSeconds must be between 1 and 120")]
    public void BadValues_AreNamed(string key, string value, string message)
    {
        var settings = Valid();
        settings[key] = value;
        Assert.Contains(Failures(settings), f => f.StartsWith(message, StringComparison.Ordinal));
    }

    [Fact]
    public void AMissingKeyFile_IsNamed()
    {
        var settings = Valid();
        settings.Remove("Payments:BitPay:PrivateKey");
        settings["Payments:BitPay:PrivateKeyPath"] = "/nonexistent/bitpay.key";
        Assert.Contains(Failures(settings), f => f.StartsWith("Payments:BitPay:PrivateKeyPath points to no file", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080")]
    [InlineData("http://localhost:8080")]
    [InlineData("http://[::1]:8080")]
    public void PlainHttp_IsAllowedOnLoopback(string url)
    {
        var settings = Valid();
        settings["Payments:BitPay:Url"] = url;
        Assert.Empty(Failures(settings));
    }

    [Fact]
    public void NoFailureMessage_RevealsTheKeyOrToken()
    {
        var settings = Valid();
        settings["Payments:BitPay:Url"] = "http://bitpay.com";
        settings["Payments:BitPay:PrivateKey"] = BitPayProviderTests.KeyHex[..60];
        var all = string.Join("\n", Failures(settings));
        Assert.DoesNotContain(BitPayProviderTests.KeyHex[..60], all, StringComparison.Ordinal);
        Assert.DoesNotContain(FakeBitPayServer.Token, all, StringComparison.Ordinal);
    }
}
