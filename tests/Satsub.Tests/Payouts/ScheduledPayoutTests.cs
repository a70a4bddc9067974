using Microsoft.EntityFrameworkCore;
using Satsub.Payouts;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payouts;

public sealed class ScheduledSqliteFixture() : DatabaseFixture(DbKind.Sqlite)
{
    protected override IDictionary<string, string?> Settings => PayoutTestKit.With(("Payouts:Schedule", "daily"), ("Payouts:ScheduleMinSats", "10000"));
}

public sealed class ScheduledPostgresFixture() : DatabaseFixture(DbKind.Postgres)
{
    protected override IDictionary<string, string?> Settings => PayoutTestKit.With(("Payouts:Schedule", "weekly"), ("Payouts:ScheduleMinSats", "10000"));
}

public abstract class ScheduledPayoutTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    protected SatsubServices App => fx.App;

    protected Task<int> RunAsync() => App.WithAsync<ScheduledPayouts, int>(s => s.RunOnceAsync(default));

    protected Task SaveDestinationAsync(Guid userId, string destination) =>
        App.DbAsync(db => db.Users.Where(u => u.Id == userId).ExecuteUpdateAsync(s => s.SetProperty(u => u.PayoutDestination, destination)));

    protected Task<List<Payout>> PayoutsOfAsync(Guid userId) =>
        App.DbAsync(db => db.Payouts.AsNoTracking().Where(p => p.UserId == userId).OrderBy(p => p.RequestedAt).ToListAsync());

    [Fact]
    public async Task PaysEverythingAvailable_ToTheSavedDestination_OncePerPeriod_AboveTheThreshold()
    {
        var rich = await App.AffiliateWithSalesAsync(3); // 15,000
        var poor = await App.AffiliateWithSalesAsync(1); // 5,000: below the threshold
        var noDestination = await App.AffiliateWithSalesAsync(3);
        await SaveDestinationAsync(rich.Id, "rich@wallet.example");
        await SaveDestinationAsync(poor.Id, "poor@wallet.example");

        await RunAsync();
        var payout = Assert.Single(await PayoutsOfAsync(rich.Id));
        Assert.Equal((15_000L, "rich@wallet.example", PayoutStatus.Approved), (payout.AmountSats, payout.Destination, payout.Status));
        Assert.Equal(ScheduledPayouts.PeriodKey(ScheduleName, App.Clock.GetUtcNow()), payout.ScheduleKey);
        Assert.Empty(await PayoutsOfAsync(poor.Id));
        Assert.Empty(await PayoutsOfAsync(noDestination.Id));
        Assert.Equal(0, (await App.BalanceAsync(rich.Id)).Available.Value);

        // Running again in the same period (a restart, a second instance) pays nobody twice, even with new earnings.
        for (var i = 0; i < 3; i++) await App.SellAsync(rich);
        Assert.Equal(0, await RunAsync());
        Assert.Single(await PayoutsOfAsync(rich.Id));

        // The next period pays what accrued since.
        App.Clock.Advance(Period);
        await RunAsync();
        var payouts = await PayoutsOfAsync(rich.Id);
        Assert.Equal(2, payouts.Count);
        Assert.Equal(15_000, payouts[1].AmountSats);
        Assert.NotEqual(payouts[0].ScheduleKey, payouts[1].ScheduleKey);
        await App.AssertLedgerBalancedAsync();
    }

    [Fact]
    public async Task ConcurrentRuns_RequestOnePayoutPerAffiliate()
    {
        App.Clock.Advance(Period * 3);
        var affiliates = new List<Satsub.Users.User>();
        for (var i = 0; i < 3; i++)
        {
            var a = await App.AffiliateWithSalesAsync(2);
            await SaveDestinationAsync(a.Id, $"conc{i}-{Guid.NewGuid().ToString("N")[..8]}@wallet.example");
            affiliates.Add(a);
        }
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(RunAsync)));
        foreach (var a in affiliates)
        {
            Assert.Equal(10_000, Assert.Single(await PayoutsOfAsync(a.Id)).AmountSats);
            Assert.Equal(0, (await App.BalanceAsync(a.Id)).Available.Value);
        }
    }

    protected abstract string ScheduleName { get; }

    protected abstract TimeSpan Period { get; }
}

public sealed class ScheduledPayoutTests_Sqlite(ScheduledSqliteFixture fx) : ScheduledPayoutTests<ScheduledSqliteFixture>(fx)
{
    protected override string ScheduleName => "daily";

    protected override TimeSpan Period => TimeSpan.FromDays(1);
}

public sealed class ScheduledPayoutTests_Postgres(ScheduledPostgresFixture fx) : ScheduledPayoutTests<ScheduledPostgresFixture>(fx)
{
    protected override string ScheduleName => "weekly";

    protected override TimeSpan Period => TimeSpan.FromDays(7);
}

public sealed class ScheduledPayoutPeriodTests
{
    [Theory]
    [InlineData("daily", "2026-01-15T23:59:59Z", "daily:2026-01-15")]
    [InlineData("daily", "2026-01-16T00:00:00Z", "daily:2026-01-16")]
    [InlineData("weekly", "2026-01-15T12:00:00Z", "weekly:2026-W03")]
    [InlineData("weekly", "2026-01-18T23:59:59Z", "weekly:2026-W03")] // Sunday
    [InlineData("weekly", "2026-01-19T00:00:00Z", "weekly:2026-W04")] // Monday
    [InlineData("Weekly", "2027-01-01T00:00:00Z", "weekly:2026-W53")] // ISO year
    [InlineData("off", "2026-01-15T12:00:00Z", null)]
    public void PeriodKeys_AreUtcDaysAndIsoWeeks(string schedule, string at, string? expected) =>
        Assert.Equal(expected, ScheduledPayouts.PeriodKey(schedule, DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public async Task Off_RequestsNothing()
    {
        await using var app = await SatsubServices.StartAsync(DbKind.Sqlite, PayoutTestKit.NoHold);
        var a = await app.AffiliateWithSalesAsync(3);
        await app.DbAsync(db => db.Users.Where(u => u.Id == a.Id).ExecuteUpdateAsync(s => s.SetProperty(u => u.PayoutDestination, "off@wallet.example")));
        Assert.Equal(0, await app.WithAsync<ScheduledPayouts, int>(s => s.RunOnceAsync(default)));
        Assert.Equal(0, await app.DbAsync(db => db.Payouts.CountAsync()));
    }

    [Fact]
    public async Task AnUnknownSchedule_IsRefusedAtStart()
    {
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            SatsubServices.StartAsync(DbKind.Sqlite, PayoutTestKit.With(("Payouts:Schedule", "monthly"))));
        Assert.Contains("Payouts:Schedule", e.Message);
    }
}
