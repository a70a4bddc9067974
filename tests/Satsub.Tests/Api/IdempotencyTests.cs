using System.Text;
using Microsoft.EntityFrameworkCore;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Api;

public sealed class IdempotencyTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    private static HttpRequestMessage Post(string url, string body, string? key) => new(HttpMethod.Post, url)
    {
        Content = new StringContent(body, Encoding.UTF8, "application/json"),
        Headers = { { "Idempotency-Key", key ?? Guid.NewGuid().ToString() } },
    };

    [Fact]
    public async Task CreateUser_SameKeyAndBody_ReturnsTheFirstResponse()
    {
        var key = Guid.NewGuid().ToString();
        var body = $"{{\"platform\":\"website\",\"username\":\"idem-{Guid.NewGuid():N}\"}}";

        var first = await app.Admin().SendAsync(Post("/api/v1/users", body, key));
        var second = await app.Admin().SendAsync(Post("/api/v1/users", body, key));

        var a = await first.AssertStatusAsync(201);
        var b = await second.AssertStatusAsync(201); // a plain retry would have been 409 username_taken
        Assert.Equal(a.GetRawText(), b.GetRawText());
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
    }

    [Fact]
    public async Task CreateUser_SameKeyOtherBody_Is422()
    {
        var key = Guid.NewGuid().ToString();
        await (await app.Admin().SendAsync(Post("/api/v1/users", $"{{\"platform\":\"website\",\"username\":\"a-{Guid.NewGuid():N}\"}}", key))).AssertStatusAsync(201);
        var other = await app.Admin().SendAsync(Post("/api/v1/users", $"{{\"platform\":\"website\",\"username\":\"b-{Guid.NewGuid():N}\"}}", key));
        await other.AssertProblemAsync(422, "idempotency_key_reused");
    }

    [Fact]
    public async Task CreateSubscription_Replayed_MakesOneInvoice()
    {
        var user = await app.RegisterAsync();
        var key = Guid.NewGuid().ToString();
        var body = $"{{\"user_id\":\"{user.Str("user_id")}\",\"subscription_type\":\"basic\",\"payment_data\":{{\"method\":\"lightning\"}}}}";

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++) responses.Add(await app.Admin().SendAsync(Post("/api/v1/subscriptions", body, key)));

        var invoiceIds = new HashSet<string>();
        foreach (var r in responses) invoiceIds.Add((await r.AssertStatusAsync(201)).GetProperty("invoice").Str("invoice_id"));
        Assert.Single(invoiceIds);
        var userId = Guid.Parse(user.Str("user_id"));
        Assert.Equal(1, await app.DbAsync(db => db.Invoices.CountAsync(i => i.UserId == userId)));
    }

    [Fact]
    public async Task CreateSubscription_ConcurrentDuplicates_MakeOneInvoice()
    {
        var user = await app.RegisterAsync();
        var key = Guid.NewGuid().ToString();
        var body = $"{{\"user_id\":\"{user.Str("user_id")}\",\"subscription_type\":\"basic\",\"payment_data\":{{\"method\":\"lightning\"}}}}";

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => app.Admin().SendAsync(Post("/api/v1/subscriptions", body, key))));

        // Each duplicate either gets the first answer or is told the first is still running.
        Assert.All(responses, r => Assert.Contains((int)r.StatusCode, new[] { 201, 409 }));
        var userId = Guid.Parse(user.Str("user_id"));
        Assert.Equal(1, await app.DbAsync(db => db.Invoices.CountAsync(i => i.UserId == userId)));
    }

    [Fact]
    public async Task Keys_AreScopedToTheApiKey()
    {
        var key = Guid.NewGuid().ToString();
        var website = app.Client(await app.CreateKeyAsync("website"));
        var body1 = $"{{\"platform\":\"website\",\"username\":\"k1-{Guid.NewGuid():N}\"}}";
        var body2 = $"{{\"platform\":\"website\",\"username\":\"k2-{Guid.NewGuid():N}\"}}";
        await (await app.Admin().SendAsync(Post("/api/v1/users", body1, key))).AssertStatusAsync(201);
        await (await website.SendAsync(Post("/api/v1/users", body2, key))).AssertStatusAsync(201);
    }

    [Theory]
    [InlineData("")]
    [InlineData("ключ")]
    public async Task InvalidKey_Is400(string key)
    {
        var request = Post("/api/v1/users", "{\"platform\":\"website\",\"username\":\"x\"}", "placeholder");
        request.Headers.Remove("Idempotency-Key");
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key.Length == 0 ? new string('k', 300) : key);
        await (await app.Admin().SendAsync(request)).AssertProblemAsync(400, "invalid_idempotency_key");
    }

    [Fact]
    public async Task ErrorAnswers_AreNotKept_SoACorrectedRetryWithTheSameKeyRuns()
    {
        var key = Guid.NewGuid().ToString();
        var referrer = await app.RegisterAsync("website");
        var externalId = Guid.NewGuid().ToString("N");
        var wrong = $"{{\"platform\":\"telegram\",\"external_id\":\"{externalId}\",\"referral_id\":\"zzzzzzzzzz\"}}";
        var fixedBody = $"{{\"platform\":\"telegram\",\"external_id\":\"{externalId}\",\"referral_id\":\"{referrer.Str("referral_code")}\"}}";

        await (await app.Admin().SendAsync(Post("/api/v1/users", wrong, key))).AssertProblemAsync(422, "unknown_referrer");
        var corrected = await (await app.Admin().SendAsync(Post("/api/v1/users", fixedBody, key))).AssertStatusAsync(201);
        Assert.Equal(referrer.Str("user_id"), corrected.Str("referrer_id"));
    }
}

public sealed class RateLimitedFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Api:RateLimit:PermitsPerSecond"] = "5" };
}

public sealed class RateLimitTests(RateLimitedFactory app) : IClassFixture<RateLimitedFactory>
{
    [Fact]
    public async Task ManyRequests_From_OneKey_Get429WithRetryAfter_OtherKeysDoNot()
    {
        var busy = app.Client(await app.CreateKeyAsync("website"));
        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 12; i++) responses.Add(await busy.GetAsync("/api/v1/subscriptions/types"));

        var limited = responses.Where(r => (int)r.StatusCode == 429).ToList();
        Assert.NotEmpty(limited);
        Assert.Contains(responses, r => r.IsSuccessStatusCode);
        var first = limited[0];
        await first.AssertProblemAsync(429, "rate_limited");
        var retryAfter = first.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(int.Parse(first.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(retryAfter >= TimeSpan.FromSeconds(1));

        var other = app.Client(await app.CreateKeyAsync("website"));
        Assert.True((await other.GetAsync("/api/v1/subscriptions/types")).IsSuccessStatusCode);

        await Task.Delay(retryAfter + TimeSpan.FromMilliseconds(200));
        Assert.True((await busy.GetAsync("/api/v1/subscriptions/types")).IsSuccessStatusCode);
    }
}
