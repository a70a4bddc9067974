using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Outbox;
using Satsub.Subscriptions;
using Satsub.Telegram;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Telegram;

/// <summary>Satsub's real services with the bot on, pointed at a <see cref="FakeBotApi"/>, on a fake clock.</summary>
public sealed class BotHarness : IAsyncDisposable
{
    public const long AdminId = 999;
    public const string Chat = "-1001234567890";
    public const long ChatId = -1001234567890;

    private BotHarness(FakeBotApi fake, SatsubServices app)
    {
        Fake = fake;
        App = app;
    }

    public FakeBotApi Fake { get; }
    public SatsubServices App { get; }

    public static async Task<BotHarness> StartAsync(DbKind kind, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        SatsubServices? app = null;
        var fake = await FakeBotApi.StartAsync(() => (app?.Clock.GetUtcNow() ?? SatsubServices.Start).ToUnixTimeSeconds());
        var config = new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = FakeBotApi.Token,
            ["Telegram:ApiBaseUrl"] = fake.BaseUri.GetLeftPart(UriPartial.Authority),
            ["Telegram:BotUsername"] = "satsub_test_bot",
            ["Telegram:AdminIds:0"] = AdminId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Telegram:PollTimeoutSeconds"] = "0",
            ["Plans:basic:Chats:0"] = Chat,
            ["Legal:Terms:en"] = "Be nice. No refunds after access is granted.",
            ["Legal:Terms:ru"] = "Будьте вежливы.",
            ["Subscriptions:GraceHours"] = "24",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) config[k] = v;
        app = await SatsubServices.StartAsync(kind, config, services);
        return new BotHarness(fake, app);
    }

    /// <summary>Queues the update at the fake and runs one poll (as the polling worker does).</summary>
    public async Task<long> UpdateAsync(JsonObject update)
    {
        var id = Fake.Enqueue(update);
        await PollAsync();
        return id;
    }

    public Task<int> PollAsync() => App.Services.GetRequiredService<TelegramPoller>().PollOnceAsync(CancellationToken.None, timeoutSeconds: 0);

    /// <summary>Dispatches the outbox and runs the sender, a fake second at a time, until nothing is left to send.</summary>
    public async Task DrainAsync(int maxSeconds = 60)
    {
        for (var i = 0; i < maxSeconds; i++)
        {
            await using (var scope = App.Scope())
                await scope.ServiceProvider.GetRequiredService<OutboxDispatcher>().DispatchDueAsync(CancellationToken.None);
            await using (var scope = App.Scope())
                await scope.ServiceProvider.GetRequiredService<TelegramSender>().SendDueAsync(CancellationToken.None);
            var now = App.Clock.GetUtcNow();
            var pending = await App.DbAsync(db => db.TelegramSends.CountAsync(s => s.Status == TelegramSendStatus.Pending));
            var outbox = await App.DbAsync(db => db.OutboxMessages.CountAsync(m => m.CompletedAt == null && m.AvailableAt <= now));
            if (pending == 0 && outbox == 0) return;
            App.Clock.Advance(TimeSpan.FromSeconds(1));
        }
    }

    public async Task<int> RunExpiryAsync()
    {
        await using var scope = App.Scope();
        return await scope.ServiceProvider.GetRequiredService<SubscriptionExpiry>().RunOnceAsync(CancellationToken.None);
    }

    public Task<Satsub.Users.User?> UserAsync(long telegramId) =>
        App.DbAsync(db => db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Platform == "telegram" && u.ExternalId == telegramId.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Messages (sendMessage/sendPhoto) the bot sent to a chat.</summary>
    public IReadOnlyList<FakeBotApi.Call> SentTo(long chatId) =>
        Fake.Calls.Where(c => c.Method is "sendMessage" or "sendPhoto" && c.Long("chat_id") == chatId).ToList();

    public void AssertConformsToReference()
    {
        var violations = BotApiReference.Violations(Fake.Calls);
        Assert.True(violations.Count == 0, "Calls outside the Bot API reference:\n" + string.Join("\n", violations));
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Fake.DisposeAsync();
    }
}
