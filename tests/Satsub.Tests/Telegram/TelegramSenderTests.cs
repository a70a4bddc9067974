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

    [Theory]
    [InlineData(DbKind.Sqlite)]
    [InlineData(DbKind.Postgres)]
    public async Task Past_rate_windows_are_pruned_and_the_current_ones_kept(DbKind kind)
    {
        await using var h = await BotHarness.StartAsync(kind);
        var second = h.App.Clock.GetUtcNow().ToUnixTimeSeconds();
        await h.App.DbAsync(async db =>
        {
            db.TelegramRateWindows.AddRange(
                new TelegramRateWindow { Bucket = "chat:old", WindowSecond = second - 3600, Used = 1 },
                new TelegramRateWindow { Bucket = "chat:minute-old", WindowSecond = second - 61, Used = 1 },
                new TelegramRateWindow { Bucket = "chat:recent", WindowSecond = second - 5, Used = 1 },
                new TelegramRateWindow { Bucket = "bot:now", WindowSecond = second, Used = 3 });
            return await db.SaveChangesAsync();
        });

        await using var scope = h.App.Scope();
        var pruned = await scope.ServiceProvider.GetRequiredService<TelegramSender>().PruneRateWindowsAsync(default, force: true);

        Assert.Equal(2, pruned);
        var left = await h.App.DbAsync(db => db.TelegramRateWindows.AsNoTracking().Select(w => w.Bucket).OrderBy(b => b).ToListAsync());
        Assert.Equal(["bot:now", "chat:recent"], left);
    }
}
