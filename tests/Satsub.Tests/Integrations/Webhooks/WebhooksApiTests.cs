using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Satsub.Integrations.Webhooks;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Integrations.Webhooks;

/// <summary>The app on PostgreSQL with its real workers; private targets allowed so the local receiver can be reached.</summary>
public sealed class WebhooksApiFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Integrations:AllowPrivateTargets"] = "true" };
}

/// <summary>The embedded default: SQLite, private targets refused.</summary>
public sealed class StrictWebhooksApiFactory : ApiFactory
{
    protected override bool UseSqlite => true;
}

public sealed class WebhooksApiTests(WebhooksApiFactory app) : IClassFixture<WebhooksApiFactory>
{
    private static readonly string[] SaleEvents = ["user.registered", "payment.settled", "subscription.activated", "commission.earned"];

    private async Task<JsonElement> CreateAsync(Uri url, params string[] events)
    {
        var response = await app.Admin().PostJsonAsync("/api/v1/admin/webhooks", new { url = url.ToString(), events, description = "crm" });
        return await response.AssertStatusAsync(201);
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 300 && !condition(); i++) await Task.Delay(100);
        Assert.True(condition(), "timed out waiting for " + what);
    }

    [Fact]
    public async Task SandboxSale_ReachesTheReceiver_SignedAndLogged_AndRedeliveryResendsTheSameEvent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var created = await CreateAsync(receiver.Url, SaleEvents);
        var id = created.Str("id");
        var secret = created.Str("secret");
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(SaleEvents, created.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("crm", created.Str("description"));

        var list = await (await app.Admin().GetAsync("/api/v1/admin/webhooks")).AssertStatusAsync(200);
        var listed = Assert.Single(list.EnumerateArray(), e => e.Str("id") == id);
        Assert.False(listed.TryGetProperty("secret", out _));
        Assert.DoesNotContain(secret, list.GetRawText(), StringComparison.Ordinal);

        var referrer = await app.RegisterAsync();
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var subscription = await app.BuyAsync(buyer.Str("user_id"));
        await app.SettleAsync(subscription.GetProperty("invoice").Str("invoice_id"));

        await WaitForAsync(() => receiver.Received.Count >= 5, "five deliveries");
        await Task.Delay(500);
        var received = receiver.Received.ToList();
        Assert.Equal(["commission.earned", "payment.settled", "subscription.activated", "user.registered", "user.registered"],
            received.Select(r => r.Type).Order(StringComparer.Ordinal));
        Assert.All(received, r => Assert.True(WebhookReceiver.Verify(secret, r.Signature, r.Body, out _), r.Signature));
        var settled = received.Single(r => r.Type == "payment.settled").Json.GetProperty("data");
        Assert.Equal(buyer.Str("user_id"), settled.Str("user_id"));
        Assert.Equal(received.Count, received.Select(r => r.Id).Distinct().Count());

        var log = await (await app.Admin().GetAsync($"/api/v1/admin/webhooks/{id}/deliveries")).AssertStatusAsync(200);
        var items = log.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(5, items.Count);
        Assert.All(items, d => Assert.Equal(("succeeded", 200), (d.Str("status"), d.GetProperty("last_status_code").GetInt32())));

        var first = items.Single(d => d.Str("event_type") == "payment.settled");
        var again = await (await app.Admin().PostAsync($"/api/v1/admin/webhooks/{id}/deliveries/{first.Str("id")}/redeliver", null)).AssertStatusAsync(200);
        Assert.Equal("pending", again.Str("status"));
        await WaitForAsync(() => receiver.Received.Count >= 6, "the redelivery");
        var redelivered = receiver.Received.Last();
        Assert.Equal(first.Str("event_id"), redelivered.Id);
        Assert.True(WebhookReceiver.Verify(secret, redelivered.Signature, redelivered.Body, out _));

        var audit = await (await app.Admin().GetAsync("/api/v1/admin/audit")).AssertStatusAsync(200);
        var actions = audit.GetProperty("items").EnumerateArray().Select(a => a.Str("action")).ToList();
        Assert.Contains("webhook.create", actions);
        Assert.Contains("webhook.redeliver", actions);
        Assert.DoesNotContain(secret, audit.GetRawText(), StringComparison.Ordinal);
        Assert.Empty(app.Errors);
    }

    [Fact]
    public async Task DeadDelivery_CanBeRedelivered()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = n => n == 1 ? 500 : 200;
        var created = await CreateAsync(receiver.Url, "user.registered");
        var id = created.Str("id");
        await app.RegisterAsync();
        await WaitForAsync(() => receiver.Received.Count >= 1, "the first attempt");
        await Task.Delay(300);
        // Make it look as if 24 hours of failures had passed.
        var endpointId = Guid.Parse(id);
        await app.DbAsync(db => db.WebhookDeliveries.Where(d => d.EndpointId == endpointId)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, WebhookDeliveryStatus.Dead)));
        var delivery = (await (await app.Admin().GetAsync($"/api/v1/admin/webhooks/{id}/deliveries")).AssertStatusAsync(200))
            .GetProperty("items").EnumerateArray().Single();
        Assert.Equal(("dead", 500), (delivery.Str("status"), delivery.GetProperty("last_status_code").GetInt32()));

        await (await app.Admin().PostAsync($"/api/v1/admin/webhooks/{id}/deliveries/{delivery.Str("id")}/redeliver", null)).AssertStatusAsync(200);
        await WaitForAsync(() => receiver.Received.Count >= 2, "the redelivery");
        await Task.Delay(300);
        var after = (await (await app.Admin().GetAsync($"/api/v1/admin/webhooks/{id}/deliveries")).AssertStatusAsync(200))
            .GetProperty("items").EnumerateArray().Single();
        Assert.Equal("succeeded", after.Str("status"));
        Assert.Equal([500, 200], after.GetProperty("status_codes").EnumerateArray().Select(c => c.GetInt32()));

        await (await app.Admin().PostAsync($"/api/v1/admin/webhooks/{id}/deliveries/{Guid.NewGuid()}/redeliver", null)).AssertProblemAsync(404, "not_found");
    }

    [Fact]
    public async Task Create_ValidatesUrlAndEvents_WithProblemDetails()
    {
        var admin = app.Admin();
        var unknown = await (await admin.PostJsonAsync("/api/v1/admin/webhooks", new { url = "https://example.com/h", events = new[] { "user.deleted" } }))
            .AssertProblemAsync(400, "validation_failed");
        Assert.True(unknown.GetProperty("errors").TryGetProperty("events", out _));
        var none = await (await admin.PostJsonAsync("/api/v1/admin/webhooks", new { url = "https://example.com/h" })).AssertProblemAsync(400, "validation_failed");
        Assert.True(none.GetProperty("errors").TryGetProperty("events", out _));
        foreach (var bad in new[] { "ftp://example.com/h", "/relative", "https://user:pw@example.com/h", "" })
        {
            var problem = await (await admin.PostJsonAsync("/api/v1/admin/webhooks", new { url = bad, events = new[] { "payment.settled" } }))
                .AssertProblemAsync(400, "validation_failed");
            Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _), bad);
        }
        await (await app.Client(await app.CreateKeyAsync("website")).GetAsync("/api/v1/admin/webhooks")).AssertProblemAsync(403, "forbidden");
        await (await app.Client(null).PostJsonAsync("/api/v1/admin/webhooks", new { url = "https://example.com/h", events = new[] { "payment.settled" } }))
            .AssertProblemAsync(401, "unauthorized");
    }

    [Fact]
    public async Task Delete_StopsDeliveries_AndHidesTheEndpoint()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var id = (await CreateAsync(receiver.Url, "user.registered")).Str("id");
        await (await app.Admin().DeleteAsync($"/api/v1/admin/webhooks/{id}")).AssertStatusAsync(204);
        await (await app.Admin().DeleteAsync($"/api/v1/admin/webhooks/{id}")).AssertProblemAsync(404, "not_found");
        var list = await (await app.Admin().GetAsync("/api/v1/admin/webhooks")).AssertStatusAsync(200);
        Assert.DoesNotContain(list.EnumerateArray(), e => e.Str("id") == id);
        await app.RegisterAsync();
        await Task.Delay(3000);
        Assert.Empty(receiver.Received);
    }
}

public sealed class StrictWebhooksApiTests(StrictWebhooksApiFactory app) : IClassFixture<StrictWebhooksApiFactory>
{
    [Theory]
    [InlineData("http://127.0.0.1/hook")]
    [InlineData("https://127.0.0.1/hook")]
    [InlineData("https://169.254.169.254/latest/meta-data/")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("https://[::1]/hook")]
    [InlineData("https://10.0.0.7/hook")]
    [InlineData("https://0x7f000001/hook")]
    [InlineData("https://localhost/hook")]
    public async Task PrivateOrPlainHttpTargets_AreRefused_WhenNotAllowed(string url)
    {
        var problem = await (await app.Admin().PostJsonAsync("/api/v1/admin/webhooks", new { url, events = new[] { "payment.settled" } }))
            .AssertProblemAsync(400, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _));
        Assert.Equal(0, await app.DbAsync(db => db.WebhookEndpoints.CountAsync()));
    }

    [Fact]
    public async Task PublicHttpsTarget_IsAccepted()
    {
        var created = await (await app.Admin().PostJsonAsync("/api/v1/admin/webhooks", new { url = "https://93.184.215.14/hook", events = new[] { "payment.settled", "payment.settled" } }))
            .AssertStatusAsync(201);
        Assert.Equal(["payment.settled"], created.GetProperty("events").EnumerateArray().Select(e => e.GetString()));
        await (await app.Admin().DeleteAsync($"/api/v1/admin/webhooks/{created.Str("id")}")).AssertStatusAsync(204);
    }
}
