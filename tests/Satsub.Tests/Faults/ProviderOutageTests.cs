using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Satsub.ApiKeys;
using Satsub.Payments;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payments.Providers.BtcPay;

namespace Satsub.Tests.Faults;

/// <summary>
/// Stands between Satsub and the BTCPay stand-in and, when told, answers every request with a 500 or holds it
/// without answering (a time-out), as an overloaded or unreachable BTCPay would.
/// </summary>
public sealed class FlakyProxy : IAsyncDisposable
{
    public enum Mode { Pass, Error500, Hang }

    private readonly HttpClient upstream = new() { Timeout = TimeSpan.FromSeconds(30) };
    private LocalHttpServer server = null!;
    private int failed;

    public Mode Current { get; set; } = Mode.Pass;
    public Uri Url => server.BaseUri;
    public int Failed => Volatile.Read(ref failed);

    public static async Task<FlakyProxy> StartAsync(Uri target)
    {
        var proxy = new FlakyProxy();
        proxy.server = await LocalHttpServer.StartAsync(app => app.Run(http => proxy.HandleAsync(http, target)));
        return proxy;
    }

    private async Task HandleAsync(HttpContext http, Uri target)
    {
        switch (Current)
        {
            case Mode.Error500:
                Interlocked.Increment(ref failed);
                http.Response.StatusCode = 500;
                http.Response.ContentType = "application/json";
                await http.Response.WriteAsync("""{"code":"generic-error","message":"An internal error happened"}""");
                return;
            case Mode.Hang:
                Interlocked.Increment(ref failed);
                try { await Task.Delay(TimeSpan.FromSeconds(30), http.RequestAborted); }
                catch (OperationCanceledException) { }
                return;
        }
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer);
        using var request = new HttpRequestMessage(new HttpMethod(http.Request.Method), new Uri(target, http.Request.Path.Value!.TrimStart('/') + http.Request.QueryString));
        if (http.Request.Method != "GET") request.Content = new ByteArrayContent(buffer.ToArray());
        foreach (var (name, value) in http.Request.Headers)
        {
            if (name is "Host" or "Content-Length" or "Transfer-Encoding") continue;
            if (!request.Headers.TryAddWithoutValidation(name, value.ToArray()))
                request.Content?.Headers.TryAddWithoutValidation(name, value.ToArray());
        }
        using var response = await upstream.SendAsync(request, http.RequestAborted);
        http.Response.StatusCode = (int)response.StatusCode;
        if (response.Content.Headers.ContentType is { } type) http.Response.ContentType = type.ToString();
        await http.Response.Body.WriteAsync(await response.Content.ReadAsByteArrayAsync(http.RequestAborted), http.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await server.DisposeAsync();
        upstream.Dispose();
    }
}

/// <summary>
/// BTCPay answers 500s, then does not answer at all, while clients buy through the REST API: they get 503 problem
/// details with a stable code, nothing is half-created, and the same request (same idempotency key) succeeds once
/// BTCPay is back. Invoices paid during the outage, whose webhooks were lost, are settled by reconciliation, once.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class ProviderOutageTests : IAsyncLifetime
{
    private FakeBtcPayServer btcpay = null!;
    private FlakyProxy proxy = null!;
    private SatsubServer satsub = null!;
    private HttpClient http = null!;

    public async Task InitializeAsync()
    {
        btcpay = await FakeBtcPayServer.StartAsync(NBitcoin.Network.RegTest);
        proxy = await FlakyProxy.StartAsync(btcpay.Url);
        var settings = BtcPaySettings.For(btcpay, proxy.Url);
        settings["Payments:BtcPay:TimeoutSeconds"] = "1";
        settings["Payments:ReconcileIntervalSeconds"] = "5";
        settings["Logging:LogLevel:Default"] = "Warning";
        satsub = await SatsubServer.StartAsync(settings.Nullable());
        http = satsub.CreateClient();
        var (_, key) = await satsub.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("faults", "admin", default));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await satsub.DisposeAsync();
        await proxy.DisposeAsync();
        await btcpay.DisposeAsync();
    }

    private string Database => satsub.Services.GetRequiredService<IConfiguration>().GetConnectionString("Satsub")!;

    private async Task<Guid> UserAsync()
    {
        using var response = await http.PostAsJsonAsync("api/v1/users", new { platform = "telegram", external_id = Guid.NewGuid().ToString("N")[..12], username = "buyer" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return Guid.Parse((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("user_id").GetString()!);
    }

    private async Task<HttpResponseMessage> BuyAsync(Guid user, string idempotencyKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/subscriptions")
        {
            Content = JsonContent.Create(new { user_id = user.ToString(), subscription_type = "basic", payment_data = new { method = "lightning" } }),
        };
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return await http.SendAsync(request);
    }

    private static async Task<Guid> InvoiceIdAsync(HttpResponseMessage created)
    {
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        return Guid.Parse(body.GetProperty("invoice").GetProperty("invoice_id").GetString()!);
    }

    private void Pay(Guid invoiceId)
    {
        var invoice = FaultDb.QueryAsync(Database, db => db.Invoices.AsNoTracking().SingleAsync(i => i.Id == invoiceId)).GetAwaiter().GetResult();
        btcpay.Pay(invoice.ProviderInvoiceId, invoice.AmountSats / 100_000_000m);
        btcpay.SetStatus(invoice.ProviderInvoiceId, "Settled");
    }

    [Fact]
    public async Task Outage_Is503WithAStableCode_NothingHalfCreated_ThenReconciliationSettlesWhatWasPaid()
    {
        // Before the outage: two invoices, paid at BTCPay during it, whose webhooks never arrive.
        var early = new List<Guid>();
        foreach (var _ in Enumerable.Range(0, 2))
        {
            using var created = await BuyAsync(await UserAsync(), Guid.NewGuid().ToString());
            early.Add(await InvoiceIdAsync(created));
        }
        var invoicesBefore = await FaultDb.QueryAsync(Database, db => db.Invoices.CountAsync());
        var subscriptionsBefore = await FaultDb.QueryAsync(Database, db => db.Subscriptions.CountAsync());

        var buyers = new List<(Guid User, string Key)>();
        foreach (var mode in new[] { FlakyProxy.Mode.Error500, FlakyProxy.Mode.Hang })
        {
            proxy.Current = mode;
            for (var i = 0; i < 2; i++)
            {
                var buyer = (await UserAsync(), Guid.NewGuid().ToString());
                buyers.Add(buyer);
                using var refused = await BuyAsync(buyer.Item1, buyer.Item2);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
                var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal(503, problem.GetProperty("status").GetInt32());
                Assert.Equal("payment_provider_unavailable", problem.GetProperty("code").GetString());
                Assert.DoesNotContain(btcpay.ApiKey, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }
        }
        foreach (var id in early) Pay(id);
        // Let reconciliation run into the outage too (it runs every 5 s): it must fail quietly, not settle or expire anything.
        var failedBefore = proxy.Failed;
        await Eventually.HoldsAsync(() => Task.FromResult(proxy.Failed > failedBefore), TimeSpan.FromSeconds(15), () => Task.FromResult("reconciliation did not call BTCPay"));

        // Nothing half-created: no invoice, no subscription, for the refused purchases.
        Assert.Equal(invoicesBefore, await FaultDb.QueryAsync(Database, db => db.Invoices.CountAsync()));
        Assert.Equal(subscriptionsBefore, await FaultDb.QueryAsync(Database, db => db.Subscriptions.CountAsync()));
        Assert.All(await FaultDb.QueryAsync(Database, db => db.Invoices.Where(i => early.Contains(i.Id)).Select(i => i.Status).ToListAsync()),
            s => Assert.Equal(InvoiceStatus.New, s));

        // BTCPay is back: the very same requests (same idempotency keys) now succeed, and are paid.
        proxy.Current = FlakyProxy.Mode.Pass;
        var late = new List<Guid>();
        foreach (var (user, key) in buyers)
        {
            using var created = await BuyAsync(user, key);
            late.Add(await InvoiceIdAsync(created));
        }
        foreach (var id in late) Pay(id);

        // No webhook ever arrives: reconciliation finds every paid invoice and settles it once.
        var all = early.Concat(late).ToList();
        await Eventually.HoldsAsync(
            () => FaultDb.QueryAsync(Database, db => db.Invoices.AllAsync(i => !all.Contains(i.Id) || i.Status == InvoiceStatus.Settled)),
            TimeSpan.FromSeconds(30),
            () => FaultDb.QueryAsync(Database, async db => $"{await db.Invoices.CountAsync(i => all.Contains(i.Id) && i.Status != InvoiceStatus.Settled)} invoices not settled"));
        await Task.Delay(TimeSpan.FromSeconds(5.5)); // one more reconciliation pass over the settled invoices changes nothing
        await using var db = FaultDb.Open(Database);
        await LedgerAudit.AssertHealthyAsync(db);
        foreach (var id in all) Assert.Equal(1, await db.LedgerPostings.CountAsync(p => p.InvoiceId == id && p.Kind == "sale"));
        Assert.Equal(all.Count, await db.Invoices.CountAsync());
        Assert.Equal(0, await db.IdempotencyRecords.CountAsync(r => r.CompletedAt == null));
    }
}
