using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Satsub.Data;
using Satsub.Hosting;
using Satsub.Tests.Cli;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Hosting;

/// <summary>
/// <c>satsub serve</c> listens while it migrates (docs/benchmarks.md, "Start-up and memory"): until the database is
/// migrated and the plans applied, <c>/health</c> is 503 and no request reaches the application; the workers start
/// only after the server started and the database is ready.
/// </summary>
public sealed class StartupOrderTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("satsub-startup-").FullName;

    [Fact]
    public async Task Health_is_not_200_until_a_fresh_sqlite_file_is_migrated_and_no_request_gets_in_before()
    {
        var file = Path.Combine(dir, "satsub.db");
        // Another connection holds the fresh file's write lock, so the server's migrations wait for it: a slow
        // migration, made deterministic.
        var blocker = new SqliteConnection($"Data Source={file};Pooling=False");
        await blocker.OpenAsync();
        await using (var begin = blocker.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE";
            await begin.ExecuteNonQueryAsync();
        }

        var builder = SatsubApp.CreateBuilder([
            "--environment=Development",
            "--urls=http://127.0.0.1:0",
            "--Database:Provider=sqlite",
            $"--ConnectionStrings:Satsub=Data Source={file}",
            "--Payments:Provider=sandbox",
            "--Plans:basic:Name=Basic",
            "--Plans:basic:Description=Basic access",
            "--Plans:basic:PriceSats=10000",
            "--Plans:basic:DurationDays=30",
        ]);
        builder.Logging.AddLogCapture();
        await using var app = builder.Build();
        app.MapSatsub();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/"), Timeout = TimeSpan.FromSeconds(30) };
        var readiness = app.Services.GetRequiredService<DatabaseReadiness>();

        // Listening, but not ready: the health check says so, the liveness probe does not, requests are turned away.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("health")).StatusCode);
        using (var ready = await http.GetAsync("health/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            using var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
            Assert.Equal("unhealthy", body.RootElement.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("health/live")).StatusCode);
        using (var early = await http.GetAsync("api/v1/plans"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, early.StatusCode);
            Assert.Equal("1", early.Headers.RetryAfter?.ToString());
            using var problem = JsonDocument.Parse(await early.Content.ReadAsStringAsync());
            Assert.Equal("service_unavailable", problem.RootElement.GetProperty("code").GetString());
        }
        Assert.False(readiness.IsReady);

        await using (var commit = blocker.CreateCommand())
        {
            commit.CommandText = "COMMIT";
            await commit.ExecuteNonQueryAsync();
        }
        await blocker.DisposeAsync();

        await SatsubServer.EventuallyAsync(async () => (await http.GetAsync("health")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60), "/health 200 after the migrations");
        // The first 200 comes after every migration and the configured plans: nothing a request needs is missing.
        Assert.True(readiness.IsReady);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
            Assert.Equal("Basic", (await db.Plans.AsNoTracking().SingleAsync(p => p.Code == "basic")).Name);
        }
        Assert.NotEqual(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("api/v1/plans")).StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_periodic_job_first_runs_after_the_host_started_and_the_database_is_ready()
    {
        var readiness = DatabaseReadiness.Pending();
        using var host = JobHost(readiness, startDelaySeconds: 0);
        var job = host.Services.GetRequiredService<ProbeJob>();
        await host.StartAsync();

        // Started, but the database is not ready: the job waits. (A first run now would record Ready = false below.)
        Assert.True(host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.IsCancellationRequested);
        await Task.Delay(200);
        Assert.False(job.FirstRun.Task.IsCompleted);

        readiness.SetReady();
        var (started, ready) = await job.FirstRun.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(started, "the host had started");
        Assert.True(ready, "the database was ready");
        await host.StopAsync();
    }

    [Fact]
    public async Task A_wake_ends_the_start_delay()
    {
        using var host = JobHost(DatabaseReadiness.AlreadyReady(), startDelaySeconds: 3600);
        var job = host.Services.GetRequiredService<ProbeJob>();
        await host.StartAsync();
        job.Wake(); // work arrived (a webhook): no reason to wait for the start delay
        var (started, ready) = await job.FirstRun.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(started && ready);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_job_does_not_run_when_the_database_could_not_be_prepared()
    {
        var readiness = DatabaseReadiness.Pending();
        using var host = JobHost(readiness, startDelaySeconds: 0);
        var job = host.Services.GetRequiredService<ProbeJob>();
        await host.StartAsync();
        readiness.SetFailed(new InvalidOperationException("migration failed"));
        await host.StopAsync(); // the job's ExecuteAsync ended without running: StopAsync does not wait for it
        Assert.False(job.FirstRun.Task.IsCompleted);
        Assert.Throws<InvalidOperationException>(readiness.ThrowIfFailed);
    }

    [Fact]
    public async Task Serve_exits_with_an_error_when_the_database_cannot_be_prepared()
    {
        // Not a SQLite file: the migrations, which run in the background while Kestrel starts, fail.
        var data = Directory.CreateDirectory(Path.Combine(dir, "data")).FullName;
        await File.WriteAllTextAsync(Path.Combine(data, "satsub.db"), "this is not a database, just text long enough to be read as a header");
        var env = new Dictionary<string, string>
        {
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
        };
        var result = await SatsubProcess.RunAsync(dir, env, "serve");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("not a database", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    private static IHost JobHost(DatabaseReadiness readiness, double startDelaySeconds)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Jobs:StartDelaySeconds"] = startDelaySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(readiness);
        builder.Services.AddSingleton<ProbeJob>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ProbeJob>());
        return builder.Build();
    }

    /// <summary>Records, at its first run, whether the host had started and the database was ready.</summary>
    private sealed class ProbeJob(IServiceScopeFactory scopes, TimeProvider clock, DatabaseReadiness readiness, IHostApplicationLifetime lifetime)
        : PeriodicJob(scopes, clock, NullLogger<ProbeJob>.Instance)
    {
        public TaskCompletionSource<(bool Started, bool Ready)> FirstRun { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override TimeSpan Interval => TimeSpan.FromHours(1);

        protected override Task RunOnceAsync(IServiceProvider services, CancellationToken ct)
        {
            FirstRun.TrySetResult((lifetime.ApplicationStarted.IsCancellationRequested, readiness.IsReady));
            return Task.CompletedTask;
        }
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
