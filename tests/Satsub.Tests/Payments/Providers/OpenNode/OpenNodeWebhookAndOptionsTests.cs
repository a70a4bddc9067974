using System.Text;
using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Satsub.Payments.Providers.OpenNode;

namespace Satsub.Tests.Payments.Providers.OpenNode;

public sealed class OpenNodeWebhookTests
{
    private const string ChargeId = "ba57e419-a6c9-41b2-a54c-b870d073d899";

    /// <summary>hex HMAC-SHA256(key = "6fa0ae9e-opennode-test-key", message = the charge id), computed outside .NET (Python's hmac).</summary>
    private const string Vector = "68b9ad5812eaa2418633b44a7cdd5fb116ed7d2ff0d7fb33c80a165bdcfe8495";

    private static readonly OpenNodeWebhookAuthenticator Authenticator =
        new(Options.Create(new OpenNodeOptions { ApiKey = FakeOpenNodeServer.ApiKey }));

    internal static HeaderDictionary FormHeaders() => new() { ["Content-Type"] = "application/x-www-form-urlencoded" };

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void TheDocumentedSignature_MatchesAnIndependentVector()
    {
        var form = FakeOpenNodeServer.WebhookForm(ChargeId, "paid", "N/A");
        Assert.Contains("hashed_order=" + Vector, form, StringComparison.Ordinal);

        var n = Authenticator.Authenticate(FormHeaders(), Utf8(form));
        Assert.NotNull(n);
        Assert.Equal(ChargeId, n.ProviderInvoiceId);
        Assert.Equal($"{ChargeId}:paid", n.EventId);
        Assert.Equal("paid", n.Kind);
    }

    [Fact]
    public void TheDocumentedUnderpaidExample_WithTransactions_IsAccepted()
    {
        // OpenNode's on-chain example, with its nested transactions as a form encodes them.
        var body = "id=" + ChargeId + "&callback_url=https%3A%2F%2F5eaacde7.ngrok.io%2F&success_url=https%3A%2F%2Fopennode.co&status=underpaid"
            + "&order_id=N%2FA&description=N%2FA&price=250413&fee=0&auto_settle=0&address=2Mz4Sx2fmKpop4Hmi4jEtJhiuDCF9VVu2ds&missing_amt=125366"
            + "&transactions%5B0%5D%5Baddress%5D=2Mz4Sx2fmKpop4Hmi4jEtJhiuDCF9VVu2ds&transactions%5B0%5D%5Bcreated_at%5D=1559657208"
            + "&transactions%5B0%5D%5Bsettled_at%5D=&transactions%5B0%5D%5Btx%5D=e1e6e522386948daeabfb5b017aa87a695a823c9f561e88f03b6f467f55ba735"
            + "&transactions%5B0%5D%5Bstatus%5D=pending&transactions%5B0%5D%5Bamount%5D=125047&hashed_order=" + Vector;
        var n = Authenticator.Authenticate(FormHeaders(), Utf8(body));
        Assert.NotNull(n);
        Assert.Equal($"{ChargeId}:underpaid", n.EventId);
    }

    [Fact]
    public void AJsonBody_IsReadToo()
    {
        var body = $$"""{"id":"{{ChargeId}}","status":"processing","order_id":"N/A","hashed_order":"{{Vector}}"}""";
        var n = Authenticator.Authenticate(new HeaderDictionary { ["Content-Type"] = "application/json" }, Utf8(body));
        Assert.NotNull(n);
        Assert.Equal($"{ChargeId}:processing", n.EventId);
    }

    [Fact]
    public void Redelivery_HasTheSameEventId_AnotherStatusAnother()
    {
        var paid = Authenticator.Authenticate(FormHeaders(), Utf8(FakeOpenNodeServer.WebhookForm(ChargeId, "paid", "x")))!;
        var again = Authenticator.Authenticate(FormHeaders(), Utf8(FakeOpenNodeServer.WebhookForm(ChargeId, "paid", "x")))!;
        var processing = Authenticator.Authenticate(FormHeaders(), Utf8(FakeOpenNodeServer.WebhookForm(ChargeId, "processing", "x")))!;
        Assert.Equal(paid.EventId, again.EventId);
        Assert.NotEqual(paid.EventId, processing.EventId);
    }

    [Fact]
    public void ASignatureMadeWithAnotherKey_IsRefused() =>
        Assert.Null(Authenticator.Authenticate(FormHeaders(), Utf8(FakeOpenNodeServer.WebhookForm(ChargeId, "paid", "x", key: "someone-elses-key"))));

    [Fact]
    public void ASignatureOfAnotherCharge_IsRefused()
    {
        var forged = FakeOpenNodeServer.WebhookForm("d7d3c8a2-0000-4000-8000-000000000001", "paid", "x", hashedOrder: Vector);
        Assert.Null(Authenticator.Authenticate(FormHeaders(), Utf8(forged)));
    }

    [Theory]
    [InlineData("")]                                   // missing
    [InlineData("zz")]                                 // not hex
    [InlineData("68b9ad5812eaa2418633b44a7cdd5fb1")]   // truncated
    [InlineData("68B9AD5812EAA2418633B44A7CDD5FB116ED7D2FF0D7FB33C80A165BDCFE8495x")]
    [InlineData("78b9ad5812eaa2418633b44a7cdd5fb116ed7d2ff0d7fb33c80a165bdcfe8495")] // one nibble off
    public void MissingOrGarbledSignatures_AreRefused(string hashedOrder) =>
        Assert.Null(Authenticator.Authenticate(FormHeaders(), Utf8(FakeOpenNodeServer.WebhookForm(ChargeId, "paid", "x", hashedOrder: hashedOrder))));

    [Fact]
    public void AnUppercaseHexSignature_IsTheSameSignature() =>
        Assert.NotNull(Authenticator.Authenticate(FormHeaders(), Utf8(FakeOpenNodeServer.WebhookForm(ChargeId, "paid", "x", hashedOrder: Vector.ToUpperInvariant()))));

    [Theory]
    [InlineData("status=paid&hashed_order=" + Vector)]                                 // no id
    [InlineData("id=" + ChargeId + "&id=other-charge-id&hashed_order=" + Vector)]      // two ids
    [InlineData("{\"id\":\"" + ChargeId + "\",\"hashed_order\":12}")]
    [InlineData("{not json")]
    [InlineData("[1,2]")]
    public void MalformedBodies_AreRefused(string body) =>
        Assert.Null(Authenticator.Authenticate(FormHeaders(), Utf8(body)));

    [Fact]
    public void InvalidUtf8_AndOversizedBodies_AreRefused()
    {
        Assert.Null(Authenticator.Authenticate(FormHeaders(), new byte[] { 0x69, 0x64, 0x3d, 0xff, 0xfe }));
        var big = FakeOpenNodeServer.WebhookForm(ChargeId, "paid", "x") + "&pad=" + new string('a', OpenNodeWebhookAuthenticator.MaxBodyBytes);
        Assert.Null(Authenticator.Authenticate(FormHeaders(), Utf8(big)));
    }

    [Fact]
    public void ArbitraryBytes_AreRefused_NeverThrow()
    {
        Gen.Byte.Array[0, 512].Sample(bytes => Authenticator.Authenticate(FormHeaders(), bytes) is null);
        Gen.String[Gen.Char["{}[]\":,=&%id_hashedorstau0123456789abcdef-"], 0, 300]
            .Sample(text => Authenticator.Authenticate(FormHeaders(), Utf8(text)) is null);
    }

    [Fact]
    public void AStatusThatIsNotAPlainWord_DoesNotReachTheEventId()
    {
        var n = Authenticator.Authenticate(FormHeaders(), Utf8(FakeOpenNodeServer.WebhookForm(ChargeId, "paid:1\n", "x")));
        Assert.NotNull(n);
        Assert.Equal($"{ChargeId}:unknown", n.EventId);
    }

    [Fact]
    public void AnyForgery_OfIdOrSignature_IsRefused() =>
        // Property: for any charge id and any hashed_order that is not its HMAC, the webhook is refused.
        Gen.Select(Gen.String[Gen.Char["abcdef0123456789-"], 8, 40], Gen.Byte.Array[32])
            .Sample((id, bytes) =>
            {
                var hex = Convert.ToHexStringLower(bytes);
                var genuine = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(Utf8(FakeOpenNodeServer.ApiKey), Utf8(id)));
                var n = Authenticator.Authenticate(FormHeaders(), Utf8(FakeOpenNodeServer.WebhookForm(id, "paid", "x", hashedOrder: hex)));
                return hex == genuine ? n is not null : n is null;
            });
}

public sealed class OpenNodeOptionsTests
{
    private static IReadOnlyList<string> Failures(Dictionary<string, string?> settings)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(config).AddLogging();
        services.AddOpenNode();
        using var sp = services.BuildServiceProvider();
        try
        {
            _ = sp.GetRequiredService<IOptions<OpenNodeOptions>>().Value;
            return [];
        }
        catch (OptionsValidationException ex)
        {
            return ex.Failures.ToList();
        }
    }

    private static Dictionary<string, string?> Valid() => OpenNodeProviderTests.Settings("https://api.opennode.com");

    [Fact]
    public void ValidSettings_Pass() => Assert.Empty(Failures(Valid()));

    [Fact]
    public void NothingSet_NamesEveryRequiredKey()
    {
        var failures = Failures(new Dictionary<string, string?>());
        Assert.Contains(failures, f => f.StartsWith("Payments:OpenNode:Url is required when the opennode provider is selected", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payments:OpenNode:ApiKey is required when the opennode provider is selected", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payments:OpenNode:CallbackUrl is required", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Payments:OpenNode:Url", "http://api.opennode.com", "Payments:OpenNode:Url must use https")]
    [InlineData("Payments:OpenNode:Url", "https://api.opennode.com/v1", "Payments:OpenNode:Url must be the API's root")]
    [InlineData("Payments:OpenNode:Url", "ftp://api.opennode.com", "Payments:OpenNode:Url must be an absolute https URL")]
    [InlineData("Payments:OpenNode:CallbackUrl", "http://satsub.example/api/v1/webhooks/opennode", "Payments:OpenNode:CallbackUrl must use https")]
    [InlineData("Payments:OpenNode:CallbackUrl", "https://satsub.example/hook?secret=1", "Payments:OpenNode:CallbackUrl must carry no user info, query or fragment")]
    [InlineData("Payments:OpenNode:ApiKey", " key-with-space", "Payments:OpenNode:ApiKey must not have surrounding spaces")]
    [InlineData("Payments:OpenNode:TimeoutSeconds", "500", "Payments:OpenNode:TimeoutSeconds must be between 1 and 120")]
    public void BadValues_AreNamed(string key, string value, string message)
    {
        var settings = Valid();
        settings[key] = value;
        Assert.Contains(Failures(settings), f => f.StartsWith(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9000")]
    [InlineData("http://localhost:9000")]
    [InlineData("http://[::1]:9000")]
    public void PlainHttp_IsAllowedOnLoopback(string url)
    {
        var settings = Valid();
        settings["Payments:OpenNode:Url"] = url;
        Assert.Empty(Failures(settings));
    }

    [Fact]
    public void NoFailureMessage_RevealsTheApiKey()
    {
        var settings = Valid();
        settings["Payments:OpenNode:ApiKey"] = "secret-key-with-trailing-space ";
        settings["Payments:OpenNode:Url"] = "http://api.opennode.com";
        Assert.DoesNotContain("secret-key", string.Join("\n", Failures(settings)), StringComparison.Ordinal);
    }
}
