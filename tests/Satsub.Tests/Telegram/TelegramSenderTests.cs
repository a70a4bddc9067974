using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Telegram;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Telegram;

public sealed class TelegramSenderTests
{
    /// <summary>Two senders (as two instances would) share one budget: never more than the limit per second overall and per chat.</summary>
    [Theory]
    [InlineData(DbKind.Sqlite)]
    [InlineData(DbKind.Postgres)]
    public async Task Instances_share_one_budget_per_second_overall_and_per_chat(DbKind kind)
    {
        await using var h = await BotHarness.StartAsync(kind, new Dictionary<string, string?> { ["Telegram:MessagesPerSecond"] = "10" });
        var now = h.App.Clock.GetUtcNow();
        await h.App.DbAsync(async db =>
        {
            for (var i = 0; i < 30; i++) await SendQueue.MessageAsync(db, $"t:{i}", 5000 + i, $"hello {i}", null, now, default);
            for (var i = 0; i < 3; i++) await SendQueue.MessageAsync(db, $"same:{i}", 7777, $"same chat {i}", null, now, default);
            // The same key again is not a second message.
            Assert.False(await SendQueue.MessageAsync(db, "t:0", 5000, "duplicate", null, now, default));
            return 0;
        });

        async Task<int> Instance()
        {
            await using var scope = h.App.Scope();
            return await scope.ServiceProvider.GetRequiredService<TelegramSender>().SendDueAsync(default);
        }
        var first = await Task.WhenAll(Instance(), Instance());
        Assert.Equal(10, first.Sum());
        Assert.Equal(10, h.Fake.CallsOf("sendMessage").Count);

        await h.DrainAsync();
        var sends = await h.App.DbAsync(db => db.TelegramSends.AsNoTracking().ToListAsync());
        Assert.All(sends, s => Assert.Equal(TelegramSendStatus.Sent, s.Status));
        Assert.Equal(33, h.Fake.CallsOf("sendMessage").Count);
        Assert.All(sends.GroupBy(s => s.SentAt!.Value.ToUnixTimeSeconds()), g => Assert.True(g.Count() <= 10));
        Assert.All(sends.Where(s => s.ChatId == 7777).GroupBy(s => s.SentAt!.Value.ToUnixTimeSeconds()), g => Assert.Single(g));
        h.AssertConformsToReference();
    }
}
