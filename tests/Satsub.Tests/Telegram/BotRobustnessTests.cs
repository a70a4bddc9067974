using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Satsub.Payments;
using Satsub.Telegram;
using Satsub.Tests.Fixtures;
using Telegram.Bot;
using Telegram.Bot.Types;

namespace Satsub.Tests.Telegram;

/// <summary>Duplicates, stale and forged buttons, odd input, a failing handler, 429 and 403.</summary>
public sealed class BotRobustnessTests
{
    private const long Alice = 4001, Bob = 4002;

    private static Dictionary<string, string?> NoTerms => new() { ["Legal:Terms:en"] = null, ["Legal:Terms:ru"] = null };

    [Fact]
    public async Task A_duplicate_update_is_handled_once_even_after_a_restart()
    {
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite);
        var update = h.Fake.TextMessage(Alice, "/start");
        update["update_id"] = 42;
        var parsed = JsonSerializer.Deserialize<Update>(FakeBotApi.Serialize(update), JsonBotAPI.Options)!;
        await using (var scope = h.App.Scope())
            Assert.True(await scope.ServiceProvider.GetRequiredService<UpdateProcessor>().ProcessAsync(parsed, default));
        await using (var scope = h.App.Scope())
            Assert.False(await scope.ServiceProvider.GetRequiredService<UpdateProcessor>().ProcessAsync(parsed, default));

        // A restarted poller resumes after the last recorded update: Telegram's redelivery of 42 is confirmed, not replayed.
        var again = h.Fake.TextMessage(Alice, "/start");
        again["update_id"] = 42;
        h.Fake.Enqueue(again);
        var next = h.Fake.TextMessage(Alice, "/menu");
        next["update_id"] = 43;
        h.Fake.Enqueue(next);
        var restarted = new TelegramPoller(h.App.Services.GetRequiredService<IServiceScopeFactory>(), h.App.Services.GetRequiredService<TelegramBot>(),
            h.App.Services.GetRequiredService<IOptions<TelegramOptions>>());
        Assert.Equal(1, await restarted.PollOnceAsync(default, 0));
        Assert.Equal(43, h.Fake.CallsOf("getUpdates").Last().Long("offset"));
        await h.DrainAsync();
        // /start: welcome + menu; /menu: menu. Not twice the welcome.
        Assert.Single(h.SentTo(Alice), c => c.Text().StartsWith("Welcome", StringComparison.Ordinal));
        Assert.Equal(3, h.SentTo(Alice).Count);
        h.AssertConformsToReference();
    }

    [Fact]
    public async Task Stale_forged_and_foreign_callbacks_get_a_polite_alert_and_change_nothing()
    {
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite, NoTerms);
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/start"));
        await h.UpdateAsync(h.Fake.TextMessage(Bob, "/start"));
        await h.UpdateAsync(h.Fake.Callback(Alice, "buy:basic:ln", 10));
        var alicesInvoice = await h.App.DbAsync(async db => await db.Invoices.SingleAsync());
        await h.DrainAsync();
        h.Fake.ClearCalls();

        string[] forged =
        [
            $"chk:{alicesInvoice.Id:N}", $"cxl:{alicesInvoice.Id:N}", $"chk:{Guid.NewGuid():N}", "chk:not-a-guid", "nonsense", "", new string('x', 65),
            "plan:unknown", "plan:../../etc", "buy:basic:btc", "po:a:" + Guid.NewGuid().ToString("N"), "bc:ok", "lang:de", "mute:x",
        ];
        foreach (var data in forged) await h.UpdateAsync(h.Fake.Callback(Bob, data, 11, photo: data.StartsWith('c')));
        await h.DrainAsync();

        var answers = h.Fake.CallsOf("answerCallbackQuery");
        Assert.Equal(forged.Length, answers.Count);
        Assert.All(answers, a => Assert.True(a.Bool("show_alert")));
        Assert.All(answers, a => Assert.Contains("no longer valid", a.Str("text")));
        Assert.Empty(h.Fake.CallsOf("editMessageCaption"));
        Assert.Empty(h.Fake.CallsOf("editMessageText"));
        Assert.Equal(InvoiceStatus.New, (await h.App.DbAsync(db => db.Invoices.SingleAsync())).Status);
        Assert.Single(await h.App.DbAsync(db => db.Invoices.ToListAsync()));
        Assert.Empty(await h.App.DbAsync(db => db.Payouts.ToListAsync()));
        h.AssertConformsToReference();
    }

    [Fact]
    public async Task Odd_input_gets_a_short_answer_or_none()
    {
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite, NoTerms);
        await h.UpdateAsync(h.Fake.Sticker(Alice));
        await h.UpdateAsync(h.Fake.TextMessage(Alice, new string('ж', 10_000)));
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/start " + new string('a', 500)));
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/start !!!"));
        await h.UpdateAsync(h.Fake.EditedMessage(Alice, "edited"));
        await h.DrainAsync();
        var sent = h.SentTo(Alice);
        Assert.Equal(4, sent.Count(c => c.Text().Contains("I work with buttons") || c.Text().Contains("Main menu")));
        Assert.DoesNotContain(sent, c => c.Text().Contains('ж'));
        Assert.Null((await h.UserAsync(Alice))!.ReferrerId);

        // An unknown code registers without a referrer and says so; an existing user keeps their referrer.
        await h.UpdateAsync(h.Fake.TextMessage(Bob, "/start nosuchcode1", language: "ru"));
        await h.DrainAsync();
        Assert.Contains(h.SentTo(Bob), c => c.Text().Contains("недействительна"));
        var alice = await h.UserAsync(Alice);
        await h.UpdateAsync(h.Fake.TextMessage(Bob, "/start " + alice!.ReferralCode));
        Assert.Null((await h.UserAsync(Bob))!.ReferrerId);
        Assert.Equal("ru", (await h.UserAsync(Bob))!.Language);
        // Nobody refers themselves.
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/start " + alice.ReferralCode));
        Assert.Null((await h.UserAsync(Alice))!.ReferrerId);
        h.AssertConformsToReference();
    }

    [Fact]
    public async Task The_transparency_screen_shows_the_public_totals_and_links_to_the_page()
    {
        var settings = NoTerms;
        settings["Transparency:PublicUrl"] = "https://satsub.example.com";
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite, settings);
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/start"));
        await h.UpdateAsync(h.Fake.Callback(Alice, "tr", 10));
        await h.DrainAsync();

        // The menu message is edited in place into the screen.
        var screen = h.Fake.CallsOf("editMessageText").Last(c => c.Long("chat_id") == Alice);
        Assert.Equal(10, screen.Long("message_id"));
        Assert.Contains("50%", screen.Text());
        Assert.Contains("Totals to date: 0 sales, 0 sats", screen.Text());
        Assert.Contains("Hold period: 7 days", screen.Text());
        Assert.Contains(screen.Buttons(), b => b.Url == "https://satsub.example.com/transparency");
        h.AssertConformsToReference();
    }

    private sealed class ThrowingProvider : IPaymentProvider
    {
        public string Name => "sandbox";
        public bool ConvertsFiat => false;
        public Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct) => throw new InvalidOperationException("boom");
        public Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct) => throw new InvalidOperationException("boom");
    }

    [Fact]
    public async Task A_handler_that_throws_gets_an_apology_and_polling_goes_on()
    {
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite, NoTerms,
            services => services.AddKeyedSingleton<IPaymentProvider>("sandbox", new ThrowingProvider()));
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/start"));
        var failing = h.Fake.Enqueue(h.Fake.Callback(Alice, "buy:basic:ln", 10));
        h.Fake.Enqueue(h.Fake.TextMessage(Alice, "/help"));
        Assert.Equal(2, await h.PollAsync());
        await h.DrainAsync();

        var apology = Assert.Single(h.Fake.CallsOf("answerCallbackQuery"));
        Assert.Contains("Sorry", apology.Str("text"));
        Assert.True(apology.Bool("show_alert"));
        Assert.Contains(h.SentTo(Alice), c => c.Text().Contains("/payout"));
        var record = await h.App.DbAsync(db => db.TelegramUpdates.SingleAsync(u => u.UpdateId == failing));
        Assert.Equal(nameof(InvalidOperationException), record.Error);
        Assert.Empty(await h.App.DbAsync(db => db.Invoices.ToListAsync()));
        h.AssertConformsToReference();
    }

    [Fact]
    public async Task A_429_waits_retry_after_and_then_delivers()
    {
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite, NoTerms);
        h.Fake.FailNext("sendMessage", 429, "Too Many Requests: retry after 7", retryAfter: 7);
        var start = h.App.Clock.GetUtcNow();
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/start"));
        await h.DrainAsync();
        Assert.Equal(3, h.Fake.CallsOf("sendMessage").Count);
        var sends = await h.App.DbAsync(db => db.TelegramSends.OrderBy(s => s.Id).ToListAsync());
        Assert.All(sends, s => Assert.Equal(TelegramSendStatus.Sent, s.Status));
        Assert.True(sends[0].SentAt >= start.AddSeconds(7), $"retried at {sends[0].SentAt}, before retry_after");
    }

    [Fact]
    public async Task A_403_marks_the_user_unreachable_and_stops_sending()
    {
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite, NoTerms);
        h.Fake.FailNext("sendMessage", 403, "Forbidden: bot was blocked by the user");
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/start"));
        await h.DrainAsync();
        Assert.Single(h.Fake.CallsOf("sendMessage"));
        var user = await h.UserAsync(Alice);
        var profile = await h.App.DbAsync(db => db.TelegramUsers.SingleAsync(u => u.UserId == user!.Id));
        Assert.NotNull(profile.UnreachableAt);
        Assert.All(await h.App.DbAsync(db => db.TelegramSends.ToListAsync()), s => Assert.Equal(TelegramSendStatus.Dropped, s.Status));

        // Events for an unreachable user queue nothing …
        await h.App.SettleAsync((await h.App.BuyAsync(user!.Id)).Id);
        await h.DrainAsync();
        Assert.Single(h.Fake.CallsOf("sendMessage"));
        // … until they write to the bot again.
        await h.UpdateAsync(h.Fake.TextMessage(Alice, "/menu"));
        await h.DrainAsync();
        Assert.Equal(2, h.Fake.CallsOf("sendMessage").Count);
    }
}
