using System.Diagnostics;
using System.Text.Json;
using Satsub.Common;
using Satsub.Payments;
using Satsub.Payments.Providers.Lnd;

namespace Satsub.Tests.Payments.Providers.Lnd;

public sealed class LndPaymentProviderTests : IAsyncLifetime
{
    private FakeLnd fake = null!;

    public async Task InitializeAsync()
    {
        fake = await FakeLnd.StartAsync();
    }

    public async Task DisposeAsync() => await fake.DisposeAsync();

    private LndTestHost Host(Action<Dictionary<string, string?>>? change = null)
    {
        var host = LndTestHost.Create(fake, change);
        fake.Clock = () => host.Clock.GetUtcNow();
        return host;
    }

    private static InvoiceRequest Request(LndTestHost host, long sats = 21_000, PaymentMethod method = PaymentMethod.Lightning) =>
        new(Guid.NewGuid(), new Sats(sats), method, "monthly", "Satsub: Monthly plan", host.Clock.GetUtcNow().AddMinutes(30));

    [Fact]
    public async Task CreateInvoice_SendsTheDocumentedFields_AndReturnsTheBolt11()
    {
        using var host = Host();
        var invoice = await host.Provider.CreateInvoiceAsync(Request(host), default);

        var post = Assert.Single(fake.RequestsTo("/v1/invoices"), r => r.Method == "POST");
        Assert.Equal(FakeLnd.Macaroon, post.Macaroon);
        using var body = JsonDocument.Parse(post.Body!);
        var fields = body.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(["expiry", "memo", "value"], fields.Keys.Order());
        Assert.Equal(JsonValueKind.String, fields["value"].ValueKind);
        Assert.Equal("21000", fields["value"].GetString());
        Assert.Equal("1800", fields["expiry"].GetString());
        Assert.Equal("Satsub: Monthly plan", fields["memo"].GetString());

        Assert.Matches("^[0-9a-f]{64}$", invoice.ProviderInvoiceId);
        Assert.StartsWith("lnbcrt21000u1pfake", invoice.Bolt11);
        Assert.Equal("lightning:" + invoice.Bolt11, invoice.PaymentUri);
        Assert.Null(invoice.Address);
        Assert.Equal(new Sats(21_000), invoice.Amount);
        Assert.Equal(host.Clock.GetUtcNow().AddMinutes(30), invoice.ExpiresAt);
    }

    [Fact]
    public async Task CreateInvoice_RoundsTheExpiryUp_AndAsksForPrivateRouteHintsWhenConfigured()
    {
        using var host = Host(s => s["Payments:Lnd:PrivateRouteHints"] = "true");
        var request = Request(host) with { ExpiresAt = host.Clock.GetUtcNow().AddSeconds(59.2) };
        await host.Provider.CreateInvoiceAsync(request, default);

        using var body = JsonDocument.Parse(fake.RequestsTo("/v1/invoices").Single().Body!);
        Assert.Equal("60", body.RootElement.GetProperty("expiry").GetString());
        Assert.True(body.RootElement.GetProperty("private").GetBoolean());
    }

    [Fact]
    public async Task CreateInvoice_ForOnChain_IsRefusedWithoutCallingTheNode()
    {
        using var host = Host();
        var e = await Assert.ThrowsAsync<DomainException>(() => host.Provider.CreateInvoiceAsync(Request(host, method: PaymentMethod.Onchain), default));
        Assert.Equal("method_unsupported", e.Code);
        Assert.Equal(422, e.Status);
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task Status_OpenThenSettled_MapsToNewThenSettled()
    {
        using var host = Host();
        var invoice = await host.Provider.CreateInvoiceAsync(Request(host), default);
        var state = await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default);
        Assert.Equal(ProviderInvoiceStatus.New, state.Status);

        fake.Settle(invoice.ProviderInvoiceId);
        state = await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId.ToUpperInvariant(), default);
        Assert.Equal(new ProviderInvoiceState(invoice.ProviderInvoiceId, ProviderInvoiceStatus.Settled, PaymentException.None, new Sats(21_000)), state);
        Assert.Contains(fake.Requests, r => r.Method == "GET" && r.Path == "/v1/invoice/" + invoice.ProviderInvoiceId);
    }

    [Theory]
    [InlineData(20_999, PaymentException.PaidPartial)]
    [InlineData(25_000, PaymentException.PaidOver)]
    public async Task Status_SettledWithAnotherAmount_IsFlagged(long paid, PaymentException expected)
    {
        using var host = Host();
        var invoice = await host.Provider.CreateInvoiceAsync(Request(host), default);
        fake.Settle(invoice.ProviderInvoiceId, paid);
        var state = await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default);
        Assert.Equal(ProviderInvoiceStatus.Settled, state.Status);
        Assert.Equal(expected, state.Exception);
        Assert.Equal(new Sats(paid), state.AmountPaid);
    }

    [Fact]
    public async Task Status_AcceptedHoldInvoice_IsProcessing()
    {
        using var host = Host();
        var invoice = await host.Provider.CreateInvoiceAsync(Request(host), default);
        fake.Accept(invoice.ProviderInvoiceId);
        var state = await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default);
        Assert.Equal(ProviderInvoiceStatus.Processing, state.Status);
    }

    [Fact]
    public async Task Status_OpenPastItsExpiry_IsExpired()
    {
        using var host = Host();
        var invoice = await host.Provider.CreateInvoiceAsync(Request(host), default);
        host.Clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(ProviderInvoiceStatus.New, (await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default)).Status);
        host.Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(ProviderInvoiceStatus.Expired, (await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default)).Status);
    }

    [Fact]
    public async Task Status_Canceled_IsInvalidBeforeTheExpiry_AndExpiredAfter()
    {
        using var host = Host();
        var invoice = await host.Provider.CreateInvoiceAsync(Request(host), default);
        fake.Cancel(invoice.ProviderInvoiceId);
        Assert.Equal(ProviderInvoiceStatus.Invalid, (await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default)).Status);
        host.Clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(ProviderInvoiceStatus.Expired, (await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default)).Status);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task Status_OfAnUnknownInvoice_IsNotFound_AndAMalformedIdNeverReachesTheNode(bool legacyNode, bool nodeHasInvoices)
    {
        using var host = Host();
        fake.LegacyNotFound = legacyNode;
        if (nodeHasInvoices) fake.AddInvoice(1);
        var e = await Assert.ThrowsAsync<DomainException>(() => host.Provider.GetInvoiceAsync(new string('a', 64), default));
        Assert.Equal("provider_invoice_not_found", e.Code);
        Assert.Equal(404, e.Status);

        var before = fake.Requests.Count;
        await Assert.ThrowsAsync<ArgumentException>(() => host.Provider.GetInvoiceAsync("../../v1/balance", default));
        Assert.Equal(before, fake.Requests.Count);
    }

    [Fact]
    public async Task CreateInvoice_WhenTheNodeFails_IsUnavailable_AndIsNeverRetried()
    {
        using var host = Host();
        fake.FailNext = 1;
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => host.Provider.CreateInvoiceAsync(Request(host), default));
        Assert.Single(fake.RequestsTo("/v1/invoices"));
    }

    [Fact]
    public async Task Lookup_WhenTheNodeKeepsFailing_IsUnavailable()
    {
        using var host = Host();
        fake.FailNext = 10;
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => host.Provider.GetInvoiceAsync(new string('b', 64), default));
        Assert.Equal(3, fake.RequestsTo("/v1/invoice/" + new string('b', 64)).Count);
    }

    [Fact]
    public async Task Lookup_WhenTheNodeFailsOnce_IsRetried()
    {
        using var host = Host();
        var invoice = await host.Provider.CreateInvoiceAsync(Request(host), default);
        fake.FailNext = 1;
        var state = await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default);
        Assert.Equal(ProviderInvoiceStatus.New, state.Status);
        Assert.Equal(2, fake.RequestsTo("/v1/invoice/" + invoice.ProviderInvoiceId).Count);
    }

    [Fact]
    public async Task CreateInvoice_SlowerThanTheTimeout_IsUnavailable()
    {
        using var host = Host(s => s["Payments:Lnd:TimeoutSeconds"] = "1");
        fake.ResponseDelay = TimeSpan.FromSeconds(5);
        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => host.Provider.CreateInvoiceAsync(Request(host), default));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"took {watch.Elapsed}");
        Assert.Single(fake.RequestsTo("/v1/invoices"));
    }

    [Fact]
    public async Task CreateInvoice_WithAnUnreachableNode_IsUnavailable()
    {
        using var host = LndTestHost.Create(new Dictionary<string, string?>
        {
            ["Payments:Lnd:Url"] = "http://127.0.0.1:1",
            ["Payments:Lnd:MacaroonHex"] = FakeLnd.Macaroon,
        });
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => host.Provider.CreateInvoiceAsync(Request(host), default));
    }

    [Theory]
    [InlineData("0201", "403")]
    public async Task CreateInvoice_WithAWrongMacaroon_IsUnavailable_AndTheMacaroonIsNotInTheMessage(string macaroon, string status)
    {
        using var host = Host(s => s["Payments:Lnd:MacaroonHex"] = macaroon);
        var e = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => host.Provider.CreateInvoiceAsync(Request(host), default));
        Assert.Contains(status, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(macaroon, e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(macaroon, Assert.Single(fake.Requests).Macaroon);
    }

    [Fact]
    public async Task TheFake_RefusesAMissingMacaroon_WithLndsErrorShape()
    {
        using var http = new HttpClient { BaseAddress = fake.Url };
        using var response = await http.GetAsync("v1/invoices");
        Assert.Equal(401, (int)response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(2, body.RootElement.GetProperty("code").GetInt32());
        Assert.Equal(JsonValueKind.String, body.RootElement.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.Array, body.RootElement.GetProperty("details").ValueKind);
    }

    [Fact]
    public async Task TheMacaroon_IsNeverLogged_AtAnyLevel()
    {
        using var host = Host();
        var invoice = await host.Provider.CreateInvoiceAsync(Request(host), default);
        await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default);
        fake.FailNext = 1;
        await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default);   // a retry, with its resilience events
        fake.FailNext = 1;
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => host.Provider.CreateInvoiceAsync(Request(host), default));

        Assert.DoesNotContain(host.Logs.Lines, l => l.Contains(FakeLnd.Macaroon, StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(host.Logs.Lines, l => l.Contains("Grpc-Metadata", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task MacaroonPath_IsReadAsBinaryAndSentAsHex()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(file, Convert.FromHexString(FakeLnd.Macaroon));
            using var host = Host(s =>
            {
                s["Payments:Lnd:MacaroonHex"] = null;
                s["Payments:Lnd:MacaroonPath"] = file;
            });
            await host.Provider.CreateInvoiceAsync(Request(host), default);
            Assert.Equal(FakeLnd.Macaroon, fake.Requests.Single().Macaroon);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
