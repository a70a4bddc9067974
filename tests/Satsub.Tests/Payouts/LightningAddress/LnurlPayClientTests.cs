using System.Diagnostics;
using System.Text.Json;
using NBitcoin;
using Satsub.Common.Net;
using Satsub.Payouts.Lightning;
using Satsub.Payouts.LightningAddress;
using Satsub.Tests.Payouts.Lightning;

namespace Satsub.Tests.Payouts.LightningAddress;

using Address = Satsub.Payouts.LightningAddress.LightningAddress;

public sealed class LnurlPayClientTests : IAsyncLifetime
{
    private const long Amount = 21_000_000; // 21,000 sats
    private static readonly Address Alice = Address.Parse("alice@payee.example");

    private LnurlTestServer server = null!;

    public async Task InitializeAsync() => server = await LnurlTestServer.StartAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    // The server is on loopback, so the happy paths allow private targets; the SSRF cases do not.
    private LnurlPayClient Client(bool allowPrivateTargets = true, int timeoutSeconds = 10, LnurlTestServer? on = null)
    {
        var target = on ?? server;
        return new LnurlPayClient(
            new LightningAddressOptions { AllowPrivateTargets = allowPrivateTargets, TimeoutSeconds = timeoutSeconds },
            Network.Main,
            TimeProvider.System,
            handler =>
            {
                handler.SslOptions.RemoteCertificateValidationCallback = target.TrustOnlyThisCertificate;
                return target.PortRedirector(handler);
            },
            LnurlTestServer.Resolve);
    }

    private async Task<LnurlPayException> RefusedAsync(string code, LnurlPayClient? client = null, long amount = Amount, Address? address = null)
    {
        using var owned = client ?? Client();
        var e = await Assert.ThrowsAsync<LnurlPayException>(() => owned.GetInvoiceAsync(address ?? Alice, amount));
        Assert.Equal(code, e.Code);
        return e;
    }

    [Fact]
    public async Task GetInvoice_HonestService_ReturnsTheCheckedInvoice()
    {
        using var client = Client();

        var result = await client.GetInvoiceAsync(Alice, Amount);

        Assert.Equal(Amount, result.AmountMsat);
        Assert.Equal(Bolt11SpecVectors.PaymentHash, result.PaymentHash);
        Assert.Equal("Satsub payout to alice", result.Description);
        Assert.Same(Alice, result.Address);
        var decoded = Bolt11Invoice.Parse(result.Bolt11, Network.Main);
        Assert.Equal(Amount, decoded.AmountMsat);
        Assert.True(decoded.DescriptionHashMatches(server.Metadata));
        Assert.True(result.ExpiresAt > DateTimeOffset.UtcNow);
        // LUD-06: <callback>&amount=<msat>, the callback's own parameters kept.
        Assert.Equal($"?{LnurlTestServer.CallbackQuery}&amount={Amount}", server.LastCallbackQuery);
        Assert.Equal(1, server.WellKnownRequests);
        Assert.Equal(1, server.CallbackRequests);
    }

    [Fact]
    public async Task GetInvoice_TaggedAddress_AsksForNamePlusTagAndAcceptsTheUntaggedIdentifier()
    {
        using var client = Client();

        var result = await client.GetInvoiceAsync(Address.Parse("alice+tips@payee.example"), Amount);

        Assert.Equal("alice+tips", server.LastWellKnownName);
        Assert.Equal(Amount, result.AmountMsat);
    }

    [Fact]
    public async Task GetInvoice_AmountAtTheBounds_IsAccepted()
    {
        using var client = Client();

        Assert.Equal(server.MinSendable, (await client.GetInvoiceAsync(Alice, server.MinSendable)).AmountMsat);
        Assert.Equal(server.MaxSendable, (await client.GetInvoiceAsync(Alice, server.MaxSendable)).AmountMsat);
    }

    [Fact]
    public async Task GetInvoice_WrongAmountInvoice_IsRefused()
    {
        server.InvoiceAmountDeltaMsat = 1_000;

        var e = await RefusedAsync(LnurlPayErrors.InvoiceAmountMismatch);

        Assert.Contains("21001000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetInvoice_WrongDescriptionHash_IsRefused()
    {
        server.DescriptionHashOf = """[["text/plain","something else"]]""";

        await RefusedAsync(LnurlPayErrors.DescriptionHashMismatch);
    }

    [Fact]
    public async Task GetInvoice_BelowMinSendable_IsRefusedBeforeTheCallback()
    {
        await RefusedAsync(LnurlPayErrors.AmountOutOfRange, amount: server.MinSendable - 1);

        Assert.Equal(0, server.CallbackRequests);
    }

    [Fact]
    public async Task GetInvoice_AboveMaxSendable_IsRefusedBeforeTheCallback()
    {
        server.MaxSendable = 10_000_000;

        await RefusedAsync(LnurlPayErrors.AmountOutOfRange);

        Assert.Equal(0, server.CallbackRequests);
    }

    [Fact]
    public async Task GetInvoice_ErrorStatusFromTheCallback_IsReportedWithItsReason()
    {
        server.CallbackBody = """{"status":"ERROR","reason":"Wallet offline\r\nforged log line"}""";

        var e = await RefusedAsync(LnurlPayErrors.ServiceError);

        Assert.Equal("Wallet offline  forged log line", e.RemoteReason);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task GetInvoice_UnknownUser_ReportsTheServiceError()
    {
        var e = await RefusedAsync(LnurlPayErrors.ServiceError, address: Address.Parse("bob@payee.example"));

        Assert.Equal("No such user.", e.RemoteReason);
    }

    [Fact]
    public async Task GetInvoice_SlowCallback_TimesOut()
    {
        server.CallbackDelay = TimeSpan.FromSeconds(20);
        var clock = Stopwatch.StartNew();

        await RefusedAsync(LnurlPayErrors.Timeout, Client(timeoutSeconds: 1));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("""{"tag":"payRequest","callback":""")]
    [InlineData("not json at all")]
    [InlineData("""[]""")]
    [InlineData("""{"tag":"withdrawRequest","callback":"https://payee.example/cb","minSendable":1000,"maxSendable":100000000,"metadata":"[[\"text/plain\",\"x\"],[\"text/identifier\",\"alice@payee.example\"]]"}""")]
    [InlineData("""{"tag":"payRequest","callback":"https://payee.example/cb","minSendable":"1000","maxSendable":100000000,"metadata":"[[\"text/plain\",\"x\"],[\"text/identifier\",\"alice@payee.example\"]]"}""")]
    [InlineData("""{"tag":"payRequest","callback":"https://payee.example/cb","minSendable":1000.5,"maxSendable":100000000,"metadata":"[[\"text/plain\",\"x\"],[\"text/identifier\",\"alice@payee.example\"]]"}""")]
    [InlineData("""{"tag":"payRequest","callback":"https://payee.example/cb","minSendable":0,"maxSendable":100000000,"metadata":"[[\"text/plain\",\"x\"],[\"text/identifier\",\"alice@payee.example\"]]"}""")]
    [InlineData("""{"tag":"payRequest","callback":"https://payee.example/cb","minSendable":100000000,"maxSendable":1000,"metadata":"[[\"text/plain\",\"x\"],[\"text/identifier\",\"alice@payee.example\"]]"}""")]
    [InlineData("""{"tag":"payRequest","callback":"https://payee.example/cb","minSendable":1000,"maxSendable":100000000,"metadata":[["text/plain","x"]]}""")]
    [InlineData("""{"tag":"payRequest","callback":"https://payee.example/cb","minSendable":1000,"maxSendable":100000000,"metadata":"[[\"text/identifier\",\"alice@payee.example\"]]"}""")]
    [InlineData("""{"tag":"payRequest","callback":"https://payee.example/cb","minSendable":1000,"maxSendable":100000000,"metadata":"[\"text/plain\",\"x\"]"}""")]
    [InlineData("""{"tag":"payRequest","callback":"/relative","minSendable":1000,"maxSendable":100000000,"metadata":"[[\"text/plain\",\"x\"],[\"text/identifier\",\"alice@payee.example\"]]"}""")]
    public async Task GetInvoice_MalformedPayRequest_IsRefused(string body)
    {
        server.WellKnownBody = body;

        await RefusedAsync(LnurlPayErrors.InvalidResponse);

        Assert.Equal(0, server.CallbackRequests);
    }

    [Theory]
    [InlineData("""{"pr":""")]
    [InlineData("""{"routes":[]}""")]
    [InlineData("""{"pr":42}""")]
    public async Task GetInvoice_MalformedCallbackAnswer_IsRefused(string body)
    {
        server.CallbackBody = body;

        await RefusedAsync(LnurlPayErrors.InvalidResponse);
    }

    [Fact]
    public async Task GetInvoice_GarbageInvoice_IsRefused()
    {
        server.CallbackBody = """{"pr":"lnbc1notaninvoice","routes":[]}""";

        await RefusedAsync(LnurlPayErrors.InvoiceInvalid);
    }

    [Fact]
    public async Task GetInvoice_InvoiceForAnotherNetwork_IsRefused()
    {
        server.InvoicePrefix = "lntb";

        await RefusedAsync(LnurlPayErrors.InvoiceNetworkMismatch);
    }

    [Fact]
    public async Task GetInvoice_ExpiredInvoice_IsRefused()
    {
        server.InvoiceAge = TimeSpan.FromHours(2);
        server.InvoiceExpirySeconds = 60;

        await RefusedAsync(LnurlPayErrors.InvoiceExpired);
    }

    [Fact]
    public async Task GetInvoice_MetadataForAnotherAddress_IsRefused()
    {
        server.Metadata = JsonSerializer.Serialize(new[] { new[] { "text/plain", "x" }, new[] { "text/identifier", "mallory@payee.example" } });

        await RefusedAsync(LnurlPayErrors.IdentifierMismatch);

        Assert.Equal(0, server.CallbackRequests);
    }

    [Fact]
    public async Task GetInvoice_EmailIdentifierAndImage_AreAccepted()
    {
        server.Metadata = JsonSerializer.Serialize(new object[]
        {
            new object[] { "text/plain", "x" },
            new object[] { "text/email", "alice@payee.example" },
            new object[] { "image/png;base64", "iVBORw0KGgo=" },
            new object[] { "application/x-future", 42, true },
        });
        using var client = Client();

        var result = await client.GetInvoiceAsync(Alice, Amount);

        Assert.Equal(Amount, result.AmountMsat);
    }

    [Fact]
    public async Task GetInvoice_HttpCallback_IsRefused()
    {
        server.Callback = $"http://{LnurlTestServer.Domain}:{server.Port}/lnurlp/alice/callback?{LnurlTestServer.CallbackQuery}";

        await RefusedAsync(LnurlPayErrors.InsecureCallback);

        Assert.Equal(0, server.CallbackRequests);
    }

    [Fact]
    public async Task GetInvoice_ServiceWithoutTls_IsRefused()
    {
        await using var plain = await LnurlTestServer.StartAsync(https: false);

        await RefusedAsync(LnurlPayErrors.Unreachable, Client(on: plain));

        Assert.Equal(0, plain.WellKnownRequests);
    }

    [Fact]
    public async Task GetInvoice_CertificateNotTrusted_IsRefused()
    {
        // Production validation: a self-signed certificate nobody pinned is refused.
        using var client = new LnurlPayClient(
            new LightningAddressOptions { AllowPrivateTargets = true },
            Network.Main,
            TimeProvider.System,
            server.PortRedirector,
            LnurlTestServer.Resolve);

        await RefusedAsync(LnurlPayErrors.Unreachable, client);

        Assert.Equal(0, server.WellKnownRequests);
    }

    [Fact]
    public async Task GetInvoice_Redirect_IsNotFollowed()
    {
        server.WellKnownLocation = $"https://{LnurlTestServer.Domain}:{server.Port}/.well-known/lnurlp/alice";

        await RefusedAsync(LnurlPayErrors.Unreachable);

        Assert.Equal(1, server.WellKnownRequests);
    }

    [Fact]
    public async Task GetInvoice_OversizedAnswer_IsRefused()
    {
        server.WellKnownBody = "[" + string.Join(",", Enumerable.Repeat("\"0123456789abcdef\"", 20_000)) + "]";

        await RefusedAsync(LnurlPayErrors.InvalidResponse);
    }

    [Fact]
    public async Task GetInvoice_AddressOnLoopback_IsRefusedByTheGuard()
    {
        var e = await RefusedAsync(LnurlPayErrors.SsrfBlocked, Client(allowPrivateTargets: false));

        Assert.Contains(LnurlTestServer.Domain, e.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.WellKnownRequests);
    }

    [Theory]
    [InlineData("https://internal.example:{port}/lnurlp/alice/callback")]
    [InlineData("https://127.0.0.1:{port}/lnurlp/alice/callback")]
    [InlineData("https://2130706433:{port}/lnurlp/alice/callback")]
    [InlineData("https://[::1]:{port}/lnurlp/alice/callback")]
    [InlineData("https://169.254.169.254/latest/meta-data/")]
    public async Task GetInvoice_CallbackIntoThePrivateNetwork_IsRefusedByTheGuard(string callback)
    {
        server.Callback = callback.Replace("{port}", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        // The service itself stands for a public host: its requests go through a handler that lets loopback
        // through; everything else, the callback included, goes through the client's own guard, which does not.
        using var client = new LnurlPayClient(
            new LightningAddressOptions { AllowPrivateTargets = false, TimeoutSeconds = 5 },
            Network.Main,
            TimeProvider.System,
            guarded =>
            {
                guarded.SslOptions.RemoteCertificateValidationCallback = server.TrustOnlyThisCertificate;
                var publicStandIn = SsrfGuard.CreateHandler(allowPrivateTargets: true, LnurlTestServer.Resolve);
                publicStandIn.SslOptions.RemoteCertificateValidationCallback = server.TrustOnlyThisCertificate;
                return server.PortRedirector(new ByHost(LnurlTestServer.Domain, publicStandIn, guarded));
            },
            LnurlTestServer.Resolve);

        await RefusedAsync(LnurlPayErrors.SsrfBlocked, client);

        Assert.Equal(1, server.WellKnownRequests);
        Assert.Equal(0, server.CallbackRequests);
    }

    [Fact]
    public void WithAmount_KeepsTheCallbacksQuery()
    {
        Assert.Equal("https://x.io/cb?amount=1000", LnurlPayClient.WithAmount(new Uri("https://x.io/cb"), 1000).AbsoluteUri);
        Assert.Equal("https://x.io/cb?k1=a%20b&z=1&amount=1000",
            LnurlPayClient.WithAmount(new Uri("https://x.io/cb?k1=a%20b&z=1#frag"), 1000).AbsoluteUri);
    }

    [Fact]
    public async Task GetInvoice_OnionAddress_IsRefused()
    {
        await RefusedAsync(LnurlPayErrors.OnionUnsupported,
            address: Address.Parse("alice@2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"));

        Assert.Equal(0, server.WellKnownRequests);
    }

    /// <summary>Sends one host's requests to one handler and the rest to another.</summary>
    private sealed class ByHost(string host, HttpMessageHandler forHost, HttpMessageHandler others) : HttpMessageHandler
    {
        private readonly HttpMessageInvoker hostInvoker = new(forHost);
        private readonly HttpMessageInvoker otherInvoker = new(others);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            request.RequestUri?.Host == host
                ? hostInvoker.SendAsync(request, cancellationToken)
                : otherInvoker.SendAsync(request, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                hostInvoker.Dispose();
                otherInvoker.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
