using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Satsub.Telegram;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Telegram;

/// <summary>Webhook mode over real HTTP: the secret header is required, an update is handled once however often it is posted.</summary>
public sealed class BotWebhookTests : IClassFixture<BotWebhookTests.Fixture>
{
    private const string Secret = "webhook-secret-for-tests_0123456789";
    private const string HookPath = "/telegram/hook-7f3a";
    private readonly Factory factory;

    public BotWebhookTests(Fixture fixture) => factory = fixture.App;

    /// <summary>The fake Bot API first (the app calls setWebhook at start), then the app; disposed in reverse.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        public FakeBotApi Fake { get; private set; } = null!;
        public Factory App { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Fake = await FakeBotApi.StartAsync(() => DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            App = new Factory(Fake);
            await ((IAsyncLifetime)App).InitializeAsync();
        }

        public async Task DisposeAsync()
        {
            await ((IAsyncLifetime)App).DisposeAsync();
            await Fake.DisposeAsync();
        }
    }

    public sealed class Factory(FakeBotApi fake) : ApiFactory
    {
        public FakeBotApi Fake => fake;

        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = FakeBotApi.Token,
            ["Telegram:ApiBaseUrl"] = fake.BaseUri.GetLeftPart(UriPartial.Authority),
            ["Telegram:BotUsername"] = "satsub_test_bot",
            ["Telegram:Mode"] = "webhook",
            ["Telegram:WebhookUrl"] = "https://satsub.example" + HookPath,
            ["Telegram:WebhookSecret"] = Secret,
            ["Legal:Terms:en"] = null,
        };
    }

    private static HttpRequestMessage Post(JsonObject update, string? secret)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, HookPath) { Content = new StringContent(update.ToJsonString(), Encoding.UTF8, "application/json") };
        if (secret is not null) request.Headers.Add(TelegramWebhook.SecretHeader, secret);
        return request;
    }

    [Fact]
    public async Task StartUp_RegistersTheWebhookWithItsSecret()
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (factory.Fake.CallsOf("setWebhook").Count == 0 && DateTime.UtcNow < until) await Task.Delay(50);
        var call = Assert.Single(factory.Fake.CallsOf("setWebhook"));
        Assert.Equal("https://satsub.example" + HookPath, call.Str("url"));
        Assert.Equal(Secret, call.Str("secret_token"));
        Assert.Empty(factory.Fake.CallsOf("getUpdates"));
    }

    [Fact]
    public async Task AnUpdateWithoutTheRightSecret_Is401_AndChangesNothing()
    {
        const long user = 8801;
        using var client = factory.CreateClient();
        foreach (var secret in new[] { null, "", "wrong", Secret + "x", Secret[..^1] })
        {
            var update = factory.Fake.TextMessage(user, "/start");
            update["update_id"] = 900_001;
            using var response = await client.SendAsync(Post(update, secret));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        Assert.Equal(0, await factory.DbAsync(db => db.Users.CountAsync(u => u.ExternalId == user.ToString())));
    }

    [Fact]
    public async Task AnUpdateWithTheSecret_IsHandled_AndARedeliveryDoesNothingMore()
    {
        const long user = 8802;
        using var client = factory.CreateClient();
        var update = factory.Fake.TextMessage(user, "/start");
        update["update_id"] = 900_100;
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.SendAsync(Post((JsonObject)update.DeepClone(), Secret));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(1, await factory.DbAsync(db => db.Users.CountAsync(u => u.Platform == "telegram" && u.ExternalId == user.ToString())));
        Assert.Equal(1, await factory.DbAsync(db => db.TelegramUpdates.CountAsync(u => u.UpdateId == 900_100)));

        // Not JSON: refused without touching anything.
        using var garbage = new HttpRequestMessage(HttpMethod.Post, HookPath) { Content = new StringContent("{not json", Encoding.UTF8, "application/json") };
        garbage.Headers.Add(TelegramWebhook.SecretHeader, Secret);
        using var refused = await client.SendAsync(garbage);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }
}
