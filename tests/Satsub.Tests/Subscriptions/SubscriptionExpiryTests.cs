using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Subscriptions;

/// <summary>
/// The expiry job at more than a page of subscriptions: every one expiring within three days gets its reminder (not
/// only the nearest page), every lapsed one is expired with one event, a second run queues nothing, and a subscription
/// renewed between the read and the write is left active.
/// </summary>
public sealed class SubscriptionExpiryTests
{
    public static TheoryData<DbKind> Kinds => [DbKind.Sqlite, DbKind.Postgres];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task MoreThanAPage_EveryDueSubscriptionGetsItsEventOnce(DbKind kind)
    {
        await using var app = await SatsubServices.StartAsync(kind);
        var user = await app.RegisterAsync();
        var now = app.Clock.GetUtcNow();
        var expiring = SubscriptionExpiry.PageSize * 2 + 37;
        var lapsed = SubscriptionExpiry.PageSize + 11;
        await app.DbAsync(async db =>
        {
            for (var i = 0; i < expiring; i++)
            {
                // Many share an expiry, so the pages' keyset must order by id within a time.
                var s = new Subscription(Guid.NewGuid(), user.Id, "basic", now.AddDays(-20));
                s.Extend(TimeSpan.FromDays(20), now.AddDays(-20));
                s.Extend(TimeSpan.FromHours(i % 7 * 10 + 1), now);
                db.Subscriptions.Add(s);
            }
            for (var i = 0; i < lapsed; i++)
            {
                var s = new Subscription(Guid.NewGuid(), user.Id, "basic", now.AddDays(-40));
                s.Extend(TimeSpan.FromDays(30), now.AddDays(-40).AddHours(i % 5));
                db.Subscriptions.Add(s);
            }
            return await db.SaveChangesAsync();
        });

        var first = await app.WithAsync<SubscriptionExpiry, int>(e => e.RunOnceAsync(default));

        Assert.Equal(expiring + lapsed, first);
        var (reminders, expired, stillActiveLapsed) = await app.DbAsync(async db => (
            await db.OutboxMessages.CountAsync(m => m.Type == "subscription.expiring"),
            await db.OutboxMessages.CountAsync(m => m.Type == "subscription.expired"),
            await db.Subscriptions.CountAsync(s => s.Status == SubscriptionStatus.Active && s.ExpiresAt <= now)));
        Assert.Equal((expiring, lapsed, 0), (reminders, expired, stillActiveLapsed));
        var oneDay = await app.DbAsync(db => db.OutboxMessages.CountAsync(m => m.Type == "subscription.expiring" && m.DedupeKey.EndsWith(":1d")));
        Assert.Equal(Enumerable.Range(0, expiring).Count(i => i % 7 * 10 + 1 <= 24), oneDay);

        Assert.Equal(0, await app.WithAsync<SubscriptionExpiry, int>(e => e.RunOnceAsync(default)));
    }

    /// <summary>PostgreSQL only: on SQLite the job's transaction holds the one write lock, so no renewal can come between.</summary>
    [Fact]
    public async Task ASubscriptionRenewedAfterTheRead_StaysActive_AndThePageStillExpiresTheOthers()
    {
        await using var app = await SatsubServices.StartAsync(DbKind.Postgres);
        var user = await app.RegisterAsync();
        var now = app.Clock.GetUtcNow();
        var ids = await app.DbAsync(async db =>
        {
            var list = Enumerable.Range(0, 5).Select(i =>
            {
                var s = new Subscription(Guid.NewGuid(), user.Id, "basic", now.AddDays(-40));
                s.Extend(TimeSpan.FromDays(30), now.AddDays(-40).AddMinutes(i));
                return s;
            }).ToList();
            db.Subscriptions.AddRange(list);
            await db.SaveChangesAsync();
            return list.Select(s => s.Id).ToList();
        });

        // The job reads the page, then a renewal commits on another connection just before the job writes: the job's
        // write of that row fails its version check and the page is redone one by one.
        var renewed = ids[2];
        await using var scope = app.Scope();
        var db = scope.ServiceProvider.GetRequiredService<Satsub.Data.SatsubDbContext>();
        var done = false;
        db.SavingChanges += (_, _) =>
        {
            if (done) return;
            done = true;
            app.DbAsync(async other =>
            {
                var s = await other.Subscriptions.SingleAsync(x => x.Id == renewed);
                s.Extend(TimeSpan.FromDays(30), now);
                return await other.SaveChangesAsync();
            }).GetAwaiter().GetResult();
        };
        var emitted = await scope.ServiceProvider.GetRequiredService<SubscriptionExpiry>().RunOnceAsync(default);

        Assert.True(done);
        Assert.Equal(4, emitted);
        var states = await app.DbAsync(d => d.Subscriptions.Where(s => ids.Contains(s.Id)).ToDictionaryAsync(s => s.Id, s => s.Status));
        Assert.Equal(SubscriptionStatus.Active, states[renewed]);
        Assert.Equal(4, states.Values.Count(s => s == SubscriptionStatus.Expired));
    }
}
