using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Payments;
using Satsub.Tests.Fixtures;
using Satsub.Users;

namespace Satsub.Tests.Data;

public sealed class DataModelTests_Sqlite(SqliteFixture fx) : DataModelTests<SqliteFixture>(fx);

public sealed class DataModelTests_Postgres(PostgresFixture fx) : DataModelTests<PostgresFixture>(fx);

public abstract class DataModelTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    [Fact]
    public async Task Migrations_MatchTheModel() =>
        Assert.False(await App.DbAsync(db => Task.FromResult(db.Database.HasPendingModelChanges())),
            "The model has changes without a migration: run `dotnet ef migrations add` for both providers (docs/development.md).");

    [Fact]
    public async Task Migrations_CreateTheConfiguredPlans()
    {
        var plans = await App.DbAsync(db => db.Plans.OrderBy(p => p.Code).ToListAsync());
        Assert.Equal(["basic", "premium"], plans.Select(p => p.Code));
        Assert.Equal(10_000, plans[0].PriceSats);
        Assert.All(plans, p => Assert.Equal(30, p.DurationDays));
    }

    [Fact]
    public async Task PlatformAndExternalId_AreUnique()
    {
        var now = App.Clock.GetUtcNow();
        await App.DbAsync(db =>
        {
            db.Users.Add(new User(Guid.NewGuid(), "discord", "42", "a", "c000000001", null, now));
            return db.SaveChangesAsync();
        });
        var ex = await Assert.ThrowsAsync<DbUpdateException>(() => App.DbAsync(db =>
        {
            db.Users.Add(new User(Guid.NewGuid(), "discord", "42", "b", "c000000002", null, now));
            return db.SaveChangesAsync();
        }));
        Assert.True(DbErrors.IsUniqueViolation(ex));
    }

    [Fact]
    public async Task SelfReferral_IsRefusedByTheModelAndByTheDatabase()
    {
        var id = Guid.NewGuid();
        Assert.Throws<ArgumentException>(() => new User(id, "telegram", "1", "x", "c000000003", id, App.Clock.GetUtcNow()));

        var user = await App.RegisterAsync();
        // The check constraint holds even against a direct UPDATE.
        await Assert.ThrowsAnyAsync<Exception>(() => App.DbAsync(db =>
            db.Users.Where(u => u.Id == user.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.ReferrerId, u => u.Id))));
    }

    [Fact]
    public async Task PaymentEvent_ProviderAndEventId_AreUnique()
    {
        var now = App.Clock.GetUtcNow();
        await App.DbAsync(db =>
        {
            db.PaymentEvents.Add(new PaymentEvent { Provider = "btcpay", EventId = "d1", Kind = "test", ReceivedAt = now });
            return db.SaveChangesAsync();
        });
        var ex = await Assert.ThrowsAsync<DbUpdateException>(() => App.DbAsync(db =>
        {
            db.PaymentEvents.Add(new PaymentEvent { Provider = "btcpay", EventId = "d1", Kind = "test", ReceivedAt = now });
            return db.SaveChangesAsync();
        }));
        Assert.True(DbErrors.IsUniqueViolation(ex));
    }

    [Fact]
    public async Task ConcurrentUpdatesOfOneRow_TheSecondWriterGetsAConcurrencyConflict()
    {
        var user = await App.RegisterAsync();
        await using var scopeA = App.Scope();
        await using var scopeB = App.Scope();
        var dbA = scopeA.ServiceProvider.GetService(typeof(SatsubDbContext)) as SatsubDbContext;
        var dbB = scopeB.ServiceProvider.GetService(typeof(SatsubDbContext)) as SatsubDbContext;
        var a = await dbA!.Users.SingleAsync(u => u.Id == user.Id);
        var b = await dbB!.Users.SingleAsync(u => u.Id == user.Id);

        a.PayoutDestination = "alice@example.com";
        await dbA.SaveChangesAsync();
        b.PayoutDestination = "mallory@example.com";

        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => dbB.SaveChangesAsync());
        Assert.Equal("alice@example.com", (await App.DbAsync(db => db.Users.SingleAsync(u => u.Id == user.Id))).PayoutDestination);
    }

    [Fact]
    public async Task AConditionalSetBasedUpdate_MakesAStaleCopyOfTheRowConflict()
    {
        var user = await App.RegisterAsync();
        var invoice = await App.BuyAsync(user.Id);
        await using var scope = App.Scope();
        var db = (SatsubDbContext)scope.ServiceProvider.GetService(typeof(SatsubDbContext))!;
        var stale = await db.Invoices.SingleAsync(i => i.Id == invoice.Id);

        var changed = await App.DbAsync(other => other.UpdateVersionedAsync(other.Invoices.Where(i => i.Id == invoice.Id && i.Status == InvoiceStatus.New),
            s => s.SetProperty(i => i.Status, InvoiceStatus.Processing), default));
        stale.Status = InvoiceStatus.Expired;

        Assert.Equal(1, changed);
        await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => db.SaveChangesAsync());
    }

    [Fact]
    public async Task Times_RoundTripExactlyToTheMicrosecond()
    {
        var at = new DateTimeOffset(2030, 5, 6, 7, 8, 9, TimeSpan.Zero).AddTicks(1234560);
        var user = new User(Guid.NewGuid(), "website", null, "timekeeper" + Guid.NewGuid().ToString("N")[..8], "c00000000t", null, at);
        await App.DbAsync(db => { db.Users.Add(user); return db.SaveChangesAsync(); });
        var loaded = await App.DbAsync(db => db.Users.SingleAsync(u => u.Id == user.Id));
        Assert.Equal(at, loaded.CreatedAt);
        Assert.Equal(1, await App.DbAsync(db => db.Users.CountAsync(u => u.Id == user.Id && u.CreatedAt > at.AddTicks(-10) && u.CreatedAt < at.AddTicks(10))));
    }
}
