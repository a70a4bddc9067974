using System.Text.Json;
using Satsub.Api;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Api;

public sealed class OpenApiTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Document_DescribesEveryRouteFieldAndErrorCode()
    {
        var response = await app.Client(null).GetAsync("/openapi/v1.json");
        var doc = await response.AssertStatusAsync(200);

        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var path in new[]
        {
            "/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/users/{user_id}/referrals", "/api/v1/subscriptions/types",
            "/api/v1/subscriptions", "/api/v1/subscriptions/{subscription_id}", "/api/v1/webhook/payment",
            "/api/v1/admin/invoices/{invoice_id}/settle", "/api/v1/admin/stats", "/api/v1/admin/audit", "/api/v1/admin/plans",
            "/api/v1/admin/plans/{type}", "/api/v1/admin/api-keys", "/api/v1/admin/api-keys/{id}",
        })
        {
            Assert.Contains(path, paths);
        }

        var description = doc.GetProperty("info").Str("description");
        foreach (var (code, _, _) in ApiProblems.Codes) Assert.Contains($"`{code}`", description, StringComparison.Ordinal);

        var schemas = doc.GetProperty("components").GetProperty("schemas");
        var created = schemas.GetProperty("UserCreated").GetProperty("properties");
        Assert.True(created.TryGetProperty("referral_code", out _));
        Assert.True(schemas.GetProperty("CreateSubscriptionRequest").GetProperty("properties").TryGetProperty("payment_data", out _));
        Assert.Equal("bearer", doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey").Str("scheme"));

        var createUser = doc.GetProperty("paths").GetProperty("/api/v1/users").GetProperty("post");
        Assert.Contains(createUser.GetProperty("parameters").EnumerateArray(), p => p.Str("name") == "Idempotency-Key");
        Assert.True(createUser.GetProperty("responses").TryGetProperty("422", out _));
        Assert.True(createUser.TryGetProperty("security", out _));
    }

    [Fact]
    public async Task Docs_AreABrowsablePage()
    {
        var client = app.Client(null);
        var redirect = await client.GetAsync("/docs");
        var page = (int)redirect.StatusCode is >= 300 and < 400 ? await client.GetAsync(redirect.Headers.Location) : redirect;
        Assert.Equal(200, (int)page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<html", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UnknownRoutesAndMethods_AreProblems()
    {
        await (await app.Admin().GetAsync("/api/v1/nothing-here")).AssertProblemAsync(404, "not_found");
        await (await app.Admin().PatchAsync("/api/v1/subscriptions/types", Http.Json("{}"))).AssertProblemAsync(405, "method_not_allowed");
        var text = new StringContent("username=x", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
        await (await app.Admin().PostAsync("/api/v1/users", text)).AssertProblemAsync(415, "unsupported_media_type");
        await (await app.Admin().PostAsync("/api/v1/users", Http.Json(""))).AssertProblemAsync(400);
        _ = JsonDocument.Parse("{}");
    }
}
