using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Satsub.Telegram;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Telegram;

public sealed partial class BotSetupTests
{
    [GeneratedRegex(@"\{\d+\}")]
    private static partial Regex Placeholder();

    private static Dictionary<string, string> Read(string file) =>
        XDocument.Load(Path.Combine(SharedReference.RepositoryRoot(), "src", "Satsub", "Telegram", "Resources", file))
            .Root!.Elements("data").ToDictionary(e => e.Attribute("name")!.Value, e => e.Element("value")!.Value);

    [Fact]
    public void Every_resource_key_exists_in_English_and_Russian_with_the_same_placeholders()
    {
        var en = Read("BotStrings.resx");
        var ru = Read("BotStringsRu.resx");
        Assert.NotEmpty(en);
        Assert.Equal(en.Keys.Order(), ru.Keys.Order());
        foreach (var key in en.Keys)
        {
            Assert.False(string.IsNullOrWhiteSpace(en[key]), key);
            Assert.False(string.IsNullOrWhiteSpace(ru[key]), key);
            Assert.Equal(Placeholder().Matches(en[key]).Select(m => m.Value).Distinct().Order(), Placeholder().Matches(ru[key]).Select(m => m.Value).Distinct().Order());
            // The compiled resources answer in both languages.
            Assert.Equal(en[key], BotTexts.Get("en", key));
            Assert.Equal(ru[key], BotTexts.Get("ru", key));
        }
        Assert.Equal("ru", BotTexts.Normalize("ru-RU"));
        Assert.Equal("en", BotTexts.Normalize("de"));
        Assert.Equal("en", BotTexts.Normalize(null));
    }

    [Fact]
    public async Task Without_a_token_the_bot_is_off_and_Satsub_runs()
    {
        await using var app = await SatsubServices.StartAsync(DbKind.Sqlite);
        Assert.Null(app.Services.GetService<TelegramBot>());
        Assert.DoesNotContain(app.Services.GetServices<Satsub.Outbox.IOutboxConsumer>(), c => c is TelegramEventConsumer);
        Assert.NotNull(await app.RegisterAsync());
    }

    [Theory]
    [InlineData("Telegram:ApiBaseUrl", "https://api.telegram.org/bot123")]
    [InlineData("Telegram:Mode", "push")]
    [InlineData("Telegram:BotToken", "not-a-token")]
    [InlineData("Telegram:Mode", "webhook")]
    public async Task Wrong_settings_are_refused_naming_the_key(string key, string value)
    {
        var settings = new Dictionary<string, string?> { ["Telegram:BotToken"] = FakeBotApi.Token, [key] = value };
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => SatsubServices.StartAsync(DbKind.Sqlite, settings));
        Assert.Contains("Telegram:", ex.Message);
    }

    [Fact]
    public void The_webhook_secret_is_compared_exactly()
    {
        Assert.True(TelegramWebhook.SecretMatches("s3cret-s3cret-s3cret", "s3cret-s3cret-s3cret"));
        Assert.False(TelegramWebhook.SecretMatches("s3cret-s3cret-s3cret", "s3cret-s3cret-s3creT"));
        Assert.False(TelegramWebhook.SecretMatches("s3cret-s3cret-s3cret", ""));
        Assert.False(TelegramWebhook.SecretMatches("s3cret-s3cret-s3cret", null));
        Assert.False(TelegramWebhook.SecretMatches(null, "x"));
    }

    [Fact]
    public async Task At_start_the_webhook_is_set_and_chats_without_admin_rights_are_reported()
    {
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite, new Dictionary<string, string?>
        {
            ["Telegram:Mode"] = "webhook",
            ["Telegram:WebhookUrl"] = "https://satsub.example/telegram/hook",
            ["Telegram:WebhookSecret"] = "a-long-enough-secret_123",
            ["Plans:premium:Chats:0"] = "@premiumchat",
        });
        h.Fake.ChatsWithoutRights.Add("@premiumchat");
        var problems = await h.App.Services.GetRequiredService<TelegramStartupCheck>().RunAsync(default);
        var problem = Assert.Single(problems);
        Assert.StartsWith("@premiumchat:", problem);
        var hook = Assert.Single(h.Fake.CallsOf("setWebhook"));
        Assert.Equal("https://satsub.example/telegram/hook", hook.Str("url"));
        Assert.Equal("a-long-enough-secret_123", hook.Str("secret_token"));
        Assert.Equal(2, h.Fake.CallsOf("getChatMember").Count);
        h.AssertConformsToReference();
    }
}
