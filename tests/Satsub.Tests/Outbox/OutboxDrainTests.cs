using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Outbox;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Outbox;

/// <summary>
/// The dispatcher worker drains the outbox in one run: it used to take one batch (100) per two-second tick, 50 messages
/// a second, while settlement queues three per sale (the benchmark's backlog grew without end).
/// </summary>
public sealed class OutboxDrainTests
{
    public static TheoryData<DbKind> Kinds => [DbKind.Sqlite, DbKind.Postgres];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ARunDispatchesEveryDueMessage_BeyondOneBatch(DbKind kind)
    {
        await using var app = await SatsubServices.StartAsync(kind);
        var now = app.Clock.GetUtcNow();
        var count = OutboxDispatcher.BatchSize * 3 + 17;
        await app.DbAsync(async db =>
        {
            for (var i = 0; i < count; i++) OutboxWriter.Enqueue(db, "test.drain", $"drain-{i}", new { I = i }, now);
            return await db.SaveChangesAsync();
        });
        var pendingBefore = await app.DbAsync(db => db.OutboxMessages.CountAsync(m => m.CompletedAt == null));

        var woken = 0;
        await using var scope = app.Scope();
        var done = await OutboxDispatcherWorker.DrainAsync(scope.ServiceProvider.GetRequiredService<OutboxDispatcher>(), () => woken++, default);

        Assert.True(pendingBefore >= count);
        Assert.Equal(pendingBefore, done);
        Assert.Equal(0, await app.DbAsync(db => db.OutboxMessages.CountAsync(m => m.CompletedAt == null)));
        Assert.True(woken >= 4, $"woken {woken} times");
    }
}
