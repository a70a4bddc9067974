using System.Runtime.ExceptionServices;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Satsub.Api;
using Satsub.Data;

namespace Satsub.Hosting;

/// <summary>
/// Whether the database is migrated and the configured plans applied. <c>satsub serve</c> does that work in the
/// background while Kestrel starts (so the JIT of the web stack overlaps the migrations instead of following them);
/// until it is done <c>/health</c> answers 503 and every other request but <c>/health/live</c> gets a 503 problem
/// with <c>Retry-After</c>, and the workers wait. Elsewhere (tests' service containers, the CLI) it is ready from the start.
/// </summary>
public sealed class DatabaseReadiness
{
    private readonly TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DatabaseReadiness() { }

    public static DatabaseReadiness Pending() => new();

    public static DatabaseReadiness AlreadyReady()
    {
        var r = new DatabaseReadiness();
        r.done.SetResult();
        return r;
    }

    public bool IsReady => done.Task.IsCompletedSuccessfully;

    public bool Failed => done.Task.IsFaulted;

    /// <summary>Completes when ready; throws what the preparation threw if it failed.</summary>
    public Task WaitAsync(CancellationToken ct) => done.Task.WaitAsync(ct);

    internal void SetReady() => done.TrySetResult();

    internal void SetFailed(Exception ex) => done.TrySetException(ex);

    /// <summary>Rethrows (with its stack) what made the preparation fail, so <c>satsub serve</c> exits as it did when it was synchronous.</summary>
    public void ThrowIfFailed()
    {
        if (done.Task.Exception?.InnerException is { } ex) ExceptionDispatchInfo.Throw(ex);
    }
}

public static class StartupGate
{
    /// <summary>How long after the server started the periodic jobs first run (<c>Jobs:StartDelaySeconds</c>).</summary>
    public static readonly TimeSpan DefaultJobStartDelay = TimeSpan.FromSeconds(1);

    /// <summary>The server's own start-up: migrations and plans in the background, <c>/health</c> 200 once they are done.</summary>
    public static IHostApplicationBuilder AddDatabaseInitializer(this IHostApplicationBuilder builder)
    {
        builder.Services.RemoveAll<DatabaseReadiness>();
        builder.Services.AddSingleton(DatabaseReadiness.Pending());
        builder.Services.AddHostedService<DatabaseInitializer>();
        return builder;
    }

    /// <summary>
    /// Until the database is ready: <c>/health</c> and <c>/health/ready</c> answer 503 without running the checks
    /// (start-up is polled often, and each unhealthy check would log an error), <c>/health/live</c> answers as
    /// usual, and everything else gets a 503 problem (<c>service_unavailable</c>, <c>Retry-After: 1</c>).
    /// </summary>
    public static WebApplication UseStartupGate(this WebApplication app)
    {
        var readiness = app.Services.GetRequiredService<DatabaseReadiness>();
        if (readiness.IsReady) return app;
        app.Use(async (http, next) =>
        {
            var path = http.Request.Path;
            if (readiness.IsReady || path.StartsWithSegments("/health/live", StringComparison.OrdinalIgnoreCase))
            {
                await next(http);
                return;
            }
            http.Response.Headers.RetryAfter = "1";
            if (path.Equals("/health", StringComparison.OrdinalIgnoreCase) || path.Equals("/health/ready", StringComparison.OrdinalIgnoreCase))
            {
                // The shapes the health endpoints answer with (HealthModule): plain text, and JSON for /health/ready.
                var detail = readiness.Failed ? "The database could not be prepared." : "The database is being prepared.";
                http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                http.Response.Headers.CacheControl = "no-store";
                if (path.Equals("/health", StringComparison.OrdinalIgnoreCase))
                {
                    http.Response.ContentType = "text/plain";
                    await http.Response.WriteAsync("Unhealthy");
                }
                else
                {
                    http.Response.ContentType = "application/json";
                    await http.Response.WriteAsync("{\"status\":\"unhealthy\",\"checks\":{\"database\":{\"status\":\"unhealthy\",\"detail\":\"" + detail + "\"}}}");
                }
                return;
            }
            await ApiProblems.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "service_unavailable",
                readiness.Failed ? "The database could not be prepared; the server is stopping." : "The server is starting: the database is being prepared.");
        });
        return app;
    }

    /// <summary>
    /// For workers: returns once the host has started (Kestrel listens) and the database is ready, so nothing a
    /// worker does competes with start-up or meets a table that does not exist yet. Throws if the preparation failed.
    /// </summary>
    public static async Task WhenServerReadyAsync(IServiceProvider services, CancellationToken ct)
    {
        if (services.GetService<IHostApplicationLifetime>() is { } lifetime && !lifetime.ApplicationStarted.IsCancellationRequested)
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
                await started.Task.WaitAsync(ct);
        }
        if (services.GetService<DatabaseReadiness>() is { } readiness) await readiness.WaitAsync(ct);
    }
}

/// <summary>
/// When the server starts: migrations (unless <c>Database:MigrateOnStart</c> is false) and the configured plans, on
/// a background task so that Kestrel starts meanwhile. A failure stops the host; <c>satsub serve</c> then rethrows it.
/// </summary>
internal sealed class DatabaseInitializer(
    IServiceProvider services,
    DatabaseReadiness readiness,
    IHostApplicationLifetime lifetime,
    IOptions<DatabaseOptions> database,
    IConfiguration configuration,
    ILogger<DatabaseInitializer> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private Task? work;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        work = Task.Run(PrepareAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task PrepareAsync()
    {
        try
        {
            await SatsubApp.PrepareAsync(services, database.Value.MigrateOnStart, stopping.Token);
            readiness.SetReady();
            logger.LogInformation("The database is ready");
        }
        catch (Exception ex)
        {
            readiness.SetFailed(ex);
            if (!stopping.IsCancellationRequested)
            {
                logger.LogCritical(ex, "The database could not be prepared; stopping");
                lifetime.StopApplication();
            }
            return;
        }
        if (string.IsNullOrWhiteSpace(configuration["Telegram:BotToken"]))
            logger.LogInformation("The Telegram bot is off: set Telegram:BotToken (environment variable Telegram__BotToken) to turn it on.");
    }

    private int disposed;

    // The host may stop more than once, even after the services were disposed (a signal, then the end of RunAsync):
    // a second stop must not throw, or `satsub serve` ends on an unhandled exception instead of exiting cleanly.
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref disposed) == 0)
        {
            try
            {
                await stopping.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
                // Disposed between the check and the cancel: already stopped.
            }
        }
        if (work is not null) await work.WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref disposed, 1);
        stopping.Dispose();
    }
}
