using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Integrations.Webhooks;
using Satsub.Outbox;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Integrations.Webhooks;

public sealed class WebhooksSqliteFixture() : DatabaseFixture(DbKind.Sqlite)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Integrations:AllowPrivateTargets"] = "true" };
}

public sealed class WebhooksPostgresFixture() : DatabaseFixture(DbKind.Postgres)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Integrations:AllowPrivateTargets"] = "true" };
}

public sealed class WebhookDeliveryTests_Sqlite(WebhooksSqliteFixture fx) : WebhookDeliveryTests<WebhooksSqliteFixture>(fx);

public sealed class WebhookDeliveryTests_Postgres(WebhooksPostgresFixture fx) : WebhookDeliveryTests<WebhooksPostgresFixture>(fx);

/// <summary>The dispatcher and the sender with a fake clock, against a local receiver (private targets allowed here).</summary>
public abstract class WebhookDeliveryTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    private async Task<WebhookEndpoint> AddEndpointAsync(Uri url, params string[] events)
    {
        var endpoint = new WebhookEndpoint
        {
            Id = Guid.NewGuid(),
            Url = url.ToString(),
            Events = string.Join(',', events.Length == 0 ? WebhookEvents.All : events),
            Secret = WebhookSignature.NewSecret(),
            CreatedAt = App.Clock.GetUtcNow(),
        };
        await App.DbAsync(async db =>
        {
            // Earlier tests' endpoints (their receivers are gone) would only add noise.
            await db.WebhookEndpoints.Where(e => e.DisabledAt == null).ExecuteUpdateAsync(s => s.SetProperty(e => e.DisabledAt, App.Clock.GetUtcNow()));
            db.WebhookEndpoints.Add(endpoint);
            return await db.SaveChangesAsync();
        });
        return endpoint;
    }

    private Task<int> DispatchAsync() => App.WithAsync<OutboxDispatcher, int>(d => d.DispatchDueAsync(default));

    private Task<int> SendAsync() => App.WithAsync<WebhookSender, int>(s => s.SendDueAsync(default));

    private Task<List<WebhookDelivery>> DeliveriesAsync(Guid endpointId) =>
        App.DbAsync(db => db.WebhookDeliveries.AsNoTracking().Where(d => d.EndpointId == endpointId).OrderBy(d => d.OutboxMessageId).ToListAsync());

    [Fact]
    public async Task Delivery_IsSignedOverTheExactBodyBytes_AndCarriesTheEvent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var endpoint = await AddEndpointAsync(receiver.Url, "user.registered");
        var user = await App.RegisterAsync();
        await DispatchAsync();
        await SendAsync();

        var hit = Assert.Single(receiver.Received);
        Assert.True(WebhookReceiver.Verify(endpoint.Secret, hit.Signature, hit.Body, out var t), hit.Signature);
        Assert.Equal(App.Clock.GetUtcNow().ToUnixTimeSeconds(), t);
        Assert.False(WebhookReceiver.Verify(endpoint.Secret + "x", hit.Signature, hit.Body, out _));
        Assert.False(WebhookReceiver.Verify(endpoint.Secret, hit.Signature, [.. hit.Body, (byte)' '], out _));
        Assert.StartsWith("application/json", hit.ContentType, StringComparison.Ordinal);
        Assert.StartsWith("Satsub-Webhooks/", hit.UserAgent, StringComparison.Ordinal);

        var json = hit.Json;
        Assert.Equal("user.registered", json.Str("type"));
        Assert.StartsWith("evt_", json.Str("id"), StringComparison.Ordinal);
        Assert.Equal(user.Id.ToString("D"), json.GetProperty("data").Str("user_id"));
        Assert.Equal(App.Clock.GetUtcNow(), DateTimeOffset.Parse(json.Str("created_at"), System.Globalization.CultureInfo.InvariantCulture));

        var delivery = Assert.Single(await DeliveriesAsync(endpoint.Id));
        Assert.Equal((WebhookDeliveryStatus.Succeeded, 1, 200, "200"), (delivery.Status, delivery.Attempts, delivery.LastStatusCode, delivery.AttemptCodes));
        Assert.Equal(0, await App.DbAsync(db => db.OutboxMessages.CountAsync(m => m.CompletedAt == null)));
    }

    [Fact]
    public async Task FailingReceiver_IsRetriedWithExponentialBackoff_UntilItSucceeds()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = n => n <= 3 ? 500 : 204;
        var endpoint = await AddEndpointAsync(receiver.Url, "user.registered");
        await App.RegisterAsync();
        await DispatchAsync();

        await SendAsync();
        Assert.Single(receiver.Received);
        foreach (var wait in new[] { 30, 60, 120 })
        {
            App.Clock.Advance(TimeSpan.FromSeconds(wait - 1));
            await SendAsync();
            Assert.Equal(wait switch { 30 => 1, 60 => 2, _ => 3 }, receiver.Received.Count); // not yet due
            App.Clock.Advance(TimeSpan.FromSeconds(1));
            await SendAsync();
        }
        Assert.Equal(4, receiver.Received.Count);
        Assert.Single(receiver.Received.Select(r => r.Id).Distinct()); // the same event id every time

        var delivery = Assert.Single(await DeliveriesAsync(endpoint.Id));
        Assert.Equal((WebhookDeliveryStatus.Succeeded, 4, "500,500,500,204"), (delivery.Status, delivery.Attempts, delivery.AttemptCodes));
        Assert.Equal(App.Clock.GetUtcNow(), delivery.DeliveredAt);
    }

    [Fact]
    public async Task ReceiverThatNeverAnswers2xx_IsGivenUpAfter24Hours()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => 302; // a redirect is not followed, and not a success
        var endpoint = await AddEndpointAsync(receiver.Url, "user.registered");
        await App.RegisterAsync();
        await DispatchAsync();
        var queuedAt = App.Clock.GetUtcNow();

        for (var i = 0; i < 100; i++)
        {
            await SendAsync();
            var d = Assert.Single(await DeliveriesAsync(endpoint.Id));
            if (d.Status == WebhookDeliveryStatus.Dead) break;
            Assert.Equal(WebhookDeliveryStatus.Failed, d.Status);
            App.Clock.SetUtcNow(d.NextAttemptAt);
        }
        var dead = Assert.Single(await DeliveriesAsync(endpoint.Id));
        Assert.Equal(WebhookDeliveryStatus.Dead, dead.Status);
        var elapsed = App.Clock.GetUtcNow() - queuedAt;
        Assert.InRange(elapsed, TimeSpan.FromHours(23), TimeSpan.FromHours(24));
        Assert.Equal(dead.Attempts, receiver.Received.Count);
        Assert.All(dead.AttemptCodes.Split(','), c => Assert.Equal("302", c));
        // 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: 7 + about 22 hourly attempts.
        Assert.InRange(dead.Attempts, 25, 32);

        App.Clock.Advance(TimeSpan.FromDays(2));
        await SendAsync();
        Assert.Equal(dead.Attempts, receiver.Received.Count); // dead stays dead
    }

    [Fact]
    public void Backoff_DoublesFrom30Seconds_CappedAtAnHour()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), WebhookSender.Backoff(1));
        Assert.Equal(TimeSpan.FromMinutes(1), WebhookSender.Backoff(2));
        Assert.Equal(TimeSpan.FromMinutes(2), WebhookSender.Backoff(3));
        Assert.Equal(TimeSpan.FromMinutes(32), WebhookSender.Backoff(7));
        Assert.Equal(TimeSpan.FromHours(1), WebhookSender.Backoff(8));
        Assert.Equal(TimeSpan.FromHours(1), WebhookSender.Backoff(500));
    }

    [Fact]
    public async Task Endpoint_ReceivesOnlyTheEventsItSubscribedTo()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var settledOnly = await AddEndpointAsync(receiver.Url, "payment.settled");
        var all = new WebhookEndpoint
        {
            Id = Guid.NewGuid(), Url = receiver.Url.ToString(), Events = string.Join(',', WebhookEvents.All),
            Secret = WebhookSignature.NewSecret(), CreatedAt = App.Clock.GetUtcNow(),
        };
        await App.DbAsync(db => { db.WebhookEndpoints.Add(all); return db.SaveChangesAsync(); });

        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        await DispatchAsync();

        Assert.Equal(["payment.settled"], (await DeliveriesAsync(settledOnly.Id)).Select(d => d.EventType));
        Assert.Equal(
            ["commission.earned", "payment.settled", "subscription.activated", "user.registered", "user.registered"],
            (await DeliveriesAsync(all.Id)).Select(d => d.EventType).Order(StringComparer.Ordinal));

        await SendAsync();
        Assert.Equal(6, receiver.Received.Count);
        Assert.True(receiver.Received.Where(r => r.Type == "payment.settled").All(r =>
            WebhookReceiver.Verify(settledOnly.Secret, r.Signature, r.Body, out _) || WebhookReceiver.Verify(all.Secret, r.Signature, r.Body, out _)));
    }

    [Fact]
    public async Task ConcurrentDispatchers_QueueOneDeliveryPerEndpointPerEvent()
    {
        if (App.Kind == DbKind.Sqlite) return; // SQLite serves one process with one dispatcher; instances share PostgreSQL
        var a = await AddEndpointAsync(new Uri("http://127.0.0.1:9/a"), "user.registered");
        var b = new WebhookEndpoint
        {
            Id = Guid.NewGuid(), Url = "http://127.0.0.1:9/b", Events = "user.registered,payment.settled",
            Secret = WebhookSignature.NewSecret(), CreatedAt = App.Clock.GetUtcNow(),
        };
        await App.DbAsync(db => { db.WebhookEndpoints.Add(b); return db.SaveChangesAsync(); });
        const int users = 30;
        for (var i = 0; i < users; i++) await App.RegisterAsync();

        var dispatched = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(DispatchAsync)));

        Assert.Equal(users, dispatched.Sum());
        Assert.Equal(0, await App.DbAsync(db => db.OutboxMessages.CountAsync(m => m.CompletedAt == null)));
        foreach (var endpoint in new[] { a, b })
        {
            var deliveries = await DeliveriesAsync(endpoint.Id);
            Assert.Equal(users, deliveries.Count);
            Assert.Equal(users, deliveries.Select(d => d.OutboxMessageId).Distinct().Count());
        }
    }

    [Fact]
    public async Task ConcurrentSenders_SendEachDueDeliveryOnce()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var endpoint = await AddEndpointAsync(receiver.Url, "user.registered");
        const int users = 25;
        for (var i = 0; i < users; i++) await App.RegisterAsync();
        await DispatchAsync();

        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(async () => { while (await SendAsync() > 0) { } })));

        Assert.Equal(users, receiver.Received.Count);
        Assert.Equal(users, receiver.Received.Select(r => r.Id).Distinct().Count());
        Assert.All(await DeliveriesAsync(endpoint.Id), d => Assert.Equal((WebhookDeliveryStatus.Succeeded, 1), (d.Status, d.Attempts)));
    }

    [Fact]
    public async Task Dispatcher_CompletesEventsNoConsumerHandles()
    {
        await App.DbAsync(db =>
        {
            OutboxWriter.Enqueue(db, "commission.reversed", "test:" + Guid.NewGuid(), new { x = 1 }, App.Clock.GetUtcNow());
            return db.SaveChangesAsync();
        });
        await DispatchAsync();
        Assert.Equal(0, await App.DbAsync(db => db.OutboxMessages.CountAsync(m => m.CompletedAt == null)));
    }

    [Theory]
    [InlineData("http://127.0.0.1:{port}/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://localhost:{port}/hook")]
    [InlineData("http://[::1]:{port}/hook")]
    [InlineData("http://2130706433:{port}/hook")]
    public async Task PrivateTargets_AreRefusedAtDelivery_WhenNotAllowed(string template)
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var url = new Uri(template.Replace("{port}", receiver.Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        var endpoint = await AddEndpointAsync(url, "user.registered");
        await App.RegisterAsync();
        await DispatchAsync();

        using var strict = new WebhookHttpClient(Options.Create(new IntegrationsOptions { AllowPrivateTargets = false }));
        await using (var scope = App.Scope())
        {
            var sender = new WebhookSender(scope.ServiceProvider.GetRequiredService<SatsubDbContext>(), strict, App.Clock, NullLogger<WebhookSender>.Instance);
            await sender.SendDueAsync(default);
        }

        Assert.Empty(receiver.Received);
        var delivery = Assert.Single(await DeliveriesAsync(endpoint.Id));
        Assert.Equal(WebhookDeliveryStatus.Failed, delivery.Status);
        Assert.Null(delivery.LastStatusCode);
        Assert.Equal("0", delivery.AttemptCodes);
        Assert.Contains("refused", delivery.LastError, StringComparison.Ordinal);
    }
}
