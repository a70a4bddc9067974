using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Hosting;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Operations;

public sealed class JobCoordinatorTests
{
    [Fact]
    public async Task On_postgres_one_holder_at_a_time_and_one_run_per_period()
    {
        await using var a = await SatsubServices.StartAsync(DbKind.Postgres);
        // A second coordinator on the same database stands for a second instance.
        var one = a.Services.GetRequiredService<JobCoordinator>();
        var two = ActivatorUtilities.CreateInstance<JobCoordinator>(a.Services);
        Assert.True(one.Coordinates);
        var period = JobCoordinator.PeriodStart(SatsubServices.Start, TimeSpan.FromMinutes(1));

        var lease = await one.TryAcquireAsync("test-job", period, default);
        Assert.NotNull(lease);
        Assert.Null(await two.TryAcquireAsync("test-job", null, default)); // held
        Assert.NotNull(await ReleasedAsync(two.TryAcquireAsync("other-job", null, default))); // other jobs are independent
        await lease!.DisposeAsync();

        Assert.Null(await two.TryAcquireAsync("test-job", period, default)); // that period ran already
        var woken = await two.TryAcquireAsync("test-job", null, default); // a woken run only needs the lock
        Assert.NotNull(woken);
        await woken!.DisposeAsync();
        var next = await two.TryAcquireAsync("test-job", period.AddMinutes(1), default);
        Assert.NotNull(next);
        await next!.DisposeAsync();

        var runs = await a.DbAsync(db => db.JobRuns.Where(r => r.Job == "test-job").OrderBy(r => r.PeriodStart).ToListAsync());
        Assert.Equal([period, period.AddMinutes(1)], runs.Select(r => r.PeriodStart));
        Assert.All(runs, r => Assert.Equal(JobCoordinator.Instance, r.Instance));
    }

    [Fact]
    public async Task On_sqlite_every_run_goes_ahead()
    {
        await using var app = await SatsubServices.StartAsync(DbKind.Sqlite);
        var coordinator = app.Services.GetRequiredService<JobCoordinator>();
        Assert.False(coordinator.Coordinates);
        var first = await coordinator.TryAcquireAsync("job", SatsubServices.Start, default);
        var second = await coordinator.TryAcquireAsync("job", SatsubServices.Start, default);
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Equal(0, await app.DbAsync(db => db.JobRuns.CountAsync()));
    }

    [Theory]
    [InlineData("2026-01-15T12:00:00Z", 60, "2026-01-15T12:00:00Z")]
    [InlineData("2026-01-15T12:00:59.999Z", 60, "2026-01-15T12:00:00Z")]
    [InlineData("2026-01-15T12:07:30Z", 300, "2026-01-15T12:05:00Z")]
    [InlineData("2026-01-15T12:07:30+02:00", 3600, "2026-01-15T10:00:00Z")]
    public void Periods_are_aligned_to_the_epoch(string at, int seconds, string start)
    {
        var period = JobCoordinator.PeriodStart(DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromSeconds(seconds));
        Assert.Equal(DateTimeOffset.Parse(start, System.Globalization.CultureInfo.InvariantCulture), period);
        Assert.Equal(TimeSpan.Zero, period.Offset);
    }

    private static async Task<IAsyncDisposable?> ReleasedAsync(Task<IAsyncDisposable?> acquire)
    {
        var lease = await acquire;
        if (lease is not null) await lease.DisposeAsync();
        return lease;
    }
}
