using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Npgsql;
using Satsub.Data;

namespace Satsub.Hosting;

/// <summary>One run of a once-per-period job: the primary key makes a second run of the same period impossible.</summary>
public sealed class JobRun
{
    public string Job { get; set; } = "";
    public DateTimeOffset PeriodStart { get; set; }
    public string Instance { get; set; } = "";
    public DateTimeOffset StartedAt { get; set; }
}

internal sealed class JobRunConfiguration : IEntityTypeConfiguration<JobRun>
{
    public void Configure(EntityTypeBuilder<JobRun> b)
    {
        b.ToTable("job_runs");
        b.HasKey(r => new { r.Job, r.PeriodStart });
        b.Property(r => r.Job).HasMaxLength(100);
        b.Property(r => r.Instance).HasMaxLength(200).IsRequired();
    }
}

/// <summary>
/// Lets several <c>satsub serve</c> processes on one PostgreSQL run each scheduled job once per period: a session
/// advisory lock (on a dedicated connection, so the job's own transactions are unaffected) keeps two instances from
/// running a job at the same time, and the <c>job_runs</c> row claimed under it keeps a second instance from running
/// the same period again after the first finished. On SQLite there is one process by construction: nothing to do.
/// </summary>
public sealed class JobCoordinator(IServiceScopeFactory scopes, TimeProvider clock, ILogger<JobCoordinator> logger)
{
    public static readonly string Instance = $"{Environment.MachineName}:{Environment.ProcessId}";

    private bool? postgres;
    private string? connectionString;

    /// <summary>True on PostgreSQL, where jobs are coordinated (and their schedule aligned to period boundaries).</summary>
    public bool Coordinates
    {
        get
        {
            if (postgres is null)
            {
                using var scope = scopes.CreateScope();
                var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
                connectionString = db.IsPostgres ? SessionLockConnectionString(db.Database.GetConnectionString()!) : null;
                postgres = db.IsPostgres;
            }
            return postgres.Value;
        }
    }

    /// <summary>
    /// The lock connections' own pool, which resets connections (the application's pool does not,
    /// <see cref="DataModule.WithPoolDefaults"/>): a session lock whose unlock failed must not outlive the connection's
    /// return to the pool.
    /// </summary>
    internal static string SessionLockConnectionString(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = false }.ConnectionString;

    /// <summary>The start of the period <paramref name="at"/> falls in (periods are aligned to the Unix epoch).</summary>
    public static DateTimeOffset PeriodStart(DateTimeOffset at, TimeSpan interval) =>
        new(at.UtcTicks - (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) % interval.Ticks, TimeSpan.Zero);

    /// <summary>
    /// Null when another instance holds the job, or already ran <paramref name="period"/>; otherwise a lease to
    /// dispose when the run is over. <paramref name="period"/> null: a woken run, exclusive but not a period's.
    /// </summary>
    public async Task<IAsyncDisposable?> TryAcquireAsync(string job, DateTimeOffset? period, CancellationToken ct)
    {
        if (!Coordinates) return NoLease.Instance;
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(ct);
            var key = LockKey(job);
            await using (var take = new NpgsqlCommand("SELECT pg_try_advisory_lock(@k)", connection))
            {
                take.Parameters.AddWithValue("k", key);
                if (await take.ExecuteScalarAsync(ct) is not true)
                {
                    await connection.DisposeAsync();
                    return null;
                }
            }
            var lease = new Lease(connection, key);
            if (period is { } p)
            {
                await using var claim = new NpgsqlCommand(
                    "INSERT INTO job_runs (job, period_start, instance, started_at) VALUES (@j, @p, @i, @s) ON CONFLICT DO NOTHING", connection);
                claim.Parameters.AddWithValue("j", job);
                claim.Parameters.AddWithValue("p", p.ToUniversalTime());
                claim.Parameters.AddWithValue("i", Instance);
                claim.Parameters.AddWithValue("s", clock.GetUtcNow().ToUniversalTime());
                if (await claim.ExecuteNonQueryAsync(ct) == 0)
                {
                    await lease.DisposeAsync();
                    return null;
                }
            }
            return lease;
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            logger.LogWarning("Could not take the lock of job {Job}: {Error}; skipping this run", job, ex.GetType().Name);
            await connection.DisposeAsync();
            return null;
        }
    }

    /// <summary>A stable 64-bit key per job name (advisory locks share one key space per database).</summary>
    internal static long LockKey(string job) =>
        BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes("satsub:job:" + job)));

    private sealed class Lease(NpgsqlConnection connection, long key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@k)", connection);
                release.Parameters.AddWithValue("k", key);
                await release.ExecuteScalarAsync(CancellationToken.None);
            }
            catch (NpgsqlException)
            {
                // Closing the session below releases the lock anyway.
            }
            await connection.DisposeAsync();
        }
    }

    private sealed class NoLease : IAsyncDisposable
    {
        public static readonly NoLease Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

public static class JobCoordination
{
    public static IHostApplicationBuilder AddJobCoordination(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<JobCoordinator>();
        return builder;
    }
}
