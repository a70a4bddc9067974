using System.Net;
using System.Text;
using Satsub.Outbox;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Operations;

/// <summary>
/// Scrapes <c>/metrics</c> after a sandbox sale. Alone in the process (<see cref="SerialCollection"/>): the
/// OpenTelemetry listener is process-wide, so parallel hosts would add their own sales to the counters.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class MetricsTests(MetricsTests.Factory app) : IClassFixture<MetricsTests.Factory>
{
    public sealed class Factory : ApiFactory;

    public sealed class ProtectedFactory : ApiFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Metrics:RequireAdminKey"] = "true" };
    }

    [Fact]
    public async Task A_sandbox_sale_shows_in_the_metrics()
    {
        var before = Prometheus.Parse(await ScrapeAsync(app.Client(null)));
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var invoice = (await app.BuyAsync(buyer.Str("user_id"), "premium")).GetProperty("invoice").Str("invoice_id");
        await app.SettleAsync(invoice);
        await app.SettleAsync(invoice); // a replay is not a second sale

        // A generic webhook with a wrong signature counts as a verification failure.
        var body = """{"transaction_id":"t1","user_id":"x","subscription_type":"basic","amount_sats":1,"status":"completed"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/webhook/payment") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Satsub-Signature", "sha256=" + new string('0', 64));
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Client(null).SendAsync(request)).StatusCode);

        var text = await ScrapeAsync(app.Client(null));
        var after = Prometheus.Parse(text);
        double Delta(string name, params (string, string)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);

        Assert.Equal(1, Delta("satsub_sales_total", ("plan", "premium"), ("provider", "sandbox")));
        Assert.Equal(25_000, Delta("satsub_sats_settled_total", ("plan", "premium"), ("provider", "sandbox")));
        Assert.Equal(1, Delta("satsub_commissions_total"));
        Assert.Equal(12_500, Delta("satsub_commission_sats_total"));
        Assert.Equal(1, Delta("satsub_webhook_verification_failures_total", ("provider", "generic")));
        foreach (var state in new[] { "requested", "approved", "sending", "sent", "failed", "rejected" })
            Assert.Equal(0, after.Sum("satsub_payouts", ("state", state)));
        Assert.True(after.Has("satsub_outbox_lag_seconds"), text);
        Assert.True(after.Has("satsub_outbox_pending"), text);
        Assert.DoesNotContain(after, s => !s.Name.StartsWith("satsub_", StringComparison.Ordinal) && s.Name is not ("target_info" or "otel_scope_info"));
    }

    [Fact]
    public async Task Outbox_lag_is_the_age_of_the_oldest_pending_message()
    {
        var now = DateTimeOffset.UtcNow;
        await app.DbAsync(async db =>
        {
            // Not yet due (available tomorrow), so the dispatcher leaves it pending while we scrape.
            db.OutboxMessages.Add(new OutboxMessage
            {
                Type = "test.lag", DedupeKey = "lag-" + Guid.NewGuid().ToString("N"), Payload = "{}",
                CreatedAt = now.AddHours(-1), AvailableAt = now.AddDays(1),
            });
            return await db.SaveChangesAsync();
        });
        var samples = Prometheus.Parse(await ScrapeAsync(app.Client(null)));
        var lag = samples.Sum("satsub_outbox_lag_seconds");
        Assert.InRange(lag, 3600, 3600 + 300);
        Assert.True(samples.Sum("satsub_outbox_pending") >= 1);
    }

    [Fact]
    public async Task Metrics_can_require_an_admin_key()
    {
        var protectedApp = new ProtectedFactory();
        await ((IAsyncLifetime)protectedApp).InitializeAsync();
        try
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await protectedApp.Client(null).GetAsync("/metrics")).StatusCode);
            var website = await protectedApp.CreateKeyAsync("website");
            Assert.Equal(HttpStatusCode.Forbidden, (await protectedApp.Client(website).GetAsync("/metrics")).StatusCode);
            Assert.Contains("satsub_outbox_pending", await ScrapeAsync(protectedApp.Admin()));
        }
        finally
        {
            await ((IAsyncLifetime)protectedApp).DisposeAsync();
        }
    }

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics answered {(int)response.StatusCode}: {text}");
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        return text;
    }
}
