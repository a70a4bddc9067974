using Satsub.Common;
using Satsub.Ledger;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Ledger;

public sealed class LedgerBookTests(SqliteFixture fx) : IClassFixture<SqliteFixture>
{
    [Fact]
    public async Task Post_RefusesEntriesThatDoNotSumToZero()
    {
        await using var scope = fx.App.Scope();
        var db = scope.ServiceProvider.GetService(typeof(Satsub.Data.SatsubDbContext)) as Satsub.Data.SatsubDbContext;
        var ex = Assert.Throws<InvalidOperationException>(() => LedgerBook.Post(db!, "test:unbalanced", "test", fx.App.Clock.GetUtcNow(),
            [(Accounts.CustomerPayments, new Sats(-100)), (Accounts.OwnerRevenue, new Sats(99))]));
        Assert.Contains("does not balance", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_RefusesZeroEntriesAndRepeatedAccounts()
    {
        await using var scope = fx.App.Scope();
        var db = (Satsub.Data.SatsubDbContext)scope.ServiceProvider.GetService(typeof(Satsub.Data.SatsubDbContext))!;
        var now = fx.App.Clock.GetUtcNow();
        Assert.Throws<ArgumentException>(() => LedgerBook.Post(db, "test:zero", "test", now,
            [(Accounts.CustomerPayments, Sats.Zero), (Accounts.OwnerRevenue, Sats.Zero)]));
        Assert.Throws<ArgumentException>(() => LedgerBook.Post(db, "test:twice", "test", now,
            [(Accounts.OwnerRevenue, new Sats(-5)), (Accounts.OwnerRevenue, new Sats(5))]));
        Assert.Throws<ArgumentException>(() => LedgerBook.Post(db, "test:one", "test", now, [(Accounts.OwnerRevenue, new Sats(5))]));
    }

    [Fact]
    public async Task Post_SameIdempotencyKeyTwice_IsRefusedByTheDatabase()
    {
        var now = fx.App.Clock.GetUtcNow();
        await fx.App.DbAsync(async db =>
        {
            LedgerBook.Post(db, "test:once", "test", now, [(Accounts.CustomerPayments, new Sats(-7)), (Accounts.OwnerRevenue, new Sats(7))]);
            return await db.SaveChangesAsync();
        });
        var ex = await Assert.ThrowsAsync<Microsoft.EntityFrameworkCore.DbUpdateException>(() => fx.App.DbAsync(async db =>
        {
            LedgerBook.Post(db, "test:once", "test", now, [(Accounts.CustomerPayments, new Sats(-7)), (Accounts.OwnerRevenue, new Sats(7))]);
            return await db.SaveChangesAsync();
        }));
        Assert.True(Satsub.Data.DbErrors.IsUniqueViolation(ex));
    }
}
