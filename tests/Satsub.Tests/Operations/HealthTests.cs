using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Operations;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Operations;

public sealed class HealthTests
{
    /// <summary>Sandbox for Lightning, OpenNode for on-chain: OpenNode's URL is a local stand-in the test stops.</summary>
    private sealed class Factory(Uri openNode) : ApiFactory
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Payments:OnChain:Provider"] = "opennode",
            ["Payments:OpenNode:Url"] = openNode.ToString().TrimEnd('/'),
            ["Payments:OpenNode:ApiKey"] = "opennode-test-api-key-0123456789",
            ["Payments:OpenNode:CallbackUrl"] = "http://127.0.0.1:9/api/v1/webhooks/opennode",
        };
    }

    [Fact]
    public async Task Ready_is_degraded_not_failed_when_a_provider_is_down_and_fails_when_the_database_is()
    {
        var standIn = await LocalHttpServer.StartAsync(a => a.MapGet("/", () => "opennode stand-in"));
        var app = new Factory(standIn.BaseUri);
        await ((IAsyncLifetime)app).InitializeAsync();
        try
        {
            var client = app.Client(null);
            var ready = await client.GetAsync("/health/ready");
            var json = await ready.AssertStatusAsync(200);
            Assert.Equal("healthy", json.Str("status"));
            Assert.Equal("healthy", json.GetProperty("checks").GetProperty("database").Str("status"));
            Assert.Equal("healthy", json.GetProperty("checks").GetProperty("payment_providers").Str("status"));

            await standIn.DisposeAsync();
            json = await (await client.GetAsync("/health/ready")).AssertStatusAsync(200);
            Assert.Equal("degraded", json.Str("status"));
            var providers = json.GetProperty("checks").GetProperty("payment_providers");
            Assert.Equal("degraded", providers.Str("status"));
            Assert.Contains("opennode", providers.Str("detail"));
            Assert.DoesNotContain("opennode-test-api-key", json.ToString());
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);

            // The database goes away: not ready (503), still alive (a restart would not help).
            await TestPostgres.DropDatabaseAsync(app.Services.GetRequiredService<IConfiguration>().GetConnectionString("Satsub")!);
            json = await (await client.GetAsync("/health/ready")).AssertStatusAsync(503);
            Assert.Equal("unhealthy", json.Str("status"));
            Assert.Equal("unhealthy", json.GetProperty("checks").GetProperty("database").Str("status"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health")).StatusCode);
            var live = await client.GetAsync("/health/live");
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            Assert.Equal("healthy", (await live.JsonAsync()).Str("status"));
        }
        finally
        {
            await ((IAsyncLifetime)app).DisposeAsync();
        }
    }
}

public sealed class RequestIdTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Each_response_carries_a_request_id_and_a_sane_incoming_one_is_kept()
    {
        var client = app.Client(null);
        var generated = await client.GetAsync("/health/live");
        var id = generated.Headers.GetValues(LoggingModule.RequestIdHeader).Single();
        Assert.Matches("^[0-9a-f]{32}$", id); // the W3C trace id

        var other = (await client.GetAsync("/health/live")).Headers.GetValues(LoggingModule.RequestIdHeader).Single();
        Assert.NotEqual(id, other);

        using var kept = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        kept.Headers.Add(LoggingModule.RequestIdHeader, "proxy-4f2a.17");
        Assert.Equal("proxy-4f2a.17", (await client.SendAsync(kept)).Headers.GetValues(LoggingModule.RequestIdHeader).Single());

        // A header that could forge log lines, or is too long, is replaced.
        foreach (var bad in new[] { "a b", "x\"y", new string('a', 65), "id;drop" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/health/live");
            request.Headers.TryAddWithoutValidation(LoggingModule.RequestIdHeader, bad);
            var answered = (await client.SendAsync(request)).Headers.GetValues(LoggingModule.RequestIdHeader).Single();
            Assert.NotEqual(bad, answered);
            Assert.True(LoggingModule.IsSane(answered));
        }
    }

    [Fact]
    public async Task A_problem_carries_the_trace_of_its_request_id()
    {
        var response = await app.Admin().GetAsync("/api/v1/users/nobody");
        var id = response.Headers.GetValues(LoggingModule.RequestIdHeader).Single();
        var problem = await response.AssertProblemAsync(404);
        Assert.Contains(id, problem.Str("trace_id"));
    }
}
