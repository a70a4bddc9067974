using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Satsub.Data;

public static class DataModule
{
    public const string DefaultSqliteConnection = "Data Source=data/satsub.db";

    public static IHostApplicationBuilder AddData(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();

        var options = builder.Configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        var connectionString = builder.Configuration.GetConnectionString("Satsub");
        // Pooled contexts: a scope leases one whose options (and EF's internal services) were built once, instead of
        // building options, parsing the connection string and creating a context per scope; a leased context comes
        // back reset (tracked entities, command time-out, change-tracking flags).
        if (options.IsPostgres)
        {
            builder.Services.AddDbContextPool<PostgresSatsubDbContext>(o => ConfigurePostgres(o, connectionString ?? ""));
            builder.Services.AddScoped<SatsubDbContext>(sp => sp.GetRequiredService<PostgresSatsubDbContext>());
        }
        else
        {
            var sqlite = PrepareSqlite(connectionString ?? DefaultSqliteConnection);
            builder.Services.AddDbContextPool<SqliteSatsubDbContext>(o => ConfigureSqlite(o, sqlite));
            builder.Services.AddScoped<SatsubDbContext>(sp => sp.GetRequiredService<SqliteSatsubDbContext>());
        }
        return builder;
    }

    public static void ConfigurePostgres(DbContextOptionsBuilder o, string connectionString) =>
        o.UseNpgsql(WithPoolDefaults(connectionString), npg => npg.MigrationsHistoryTable("__ef_migrations_history"))
         .UseSnakeCaseNamingConvention();

    /// <summary>
    /// Npgsql's pool defaults for Satsub, each kept when the connection string sets it:
    /// <list type="bullet">
    /// <item>Automatic preparation (<c>Max Auto Prepare=200</c>, <c>Auto Prepare Min Usages=2</c>): the same few dozen
    /// statements run for every settlement and request, and a prepared one skips PostgreSQL's parse and plan (it nearly
    /// doubled the settlement throughput, docs/benchmarks.md). <c>Max Auto Prepare=0</c> turns it off (e.g. behind a
    /// PgBouncer in transaction mode older than 1.21, which cannot keep prepared statements).</item>
    /// <item><c>No Reset On Close=true</c>: a pooled connection is not reset (<c>RESET ALL; CLOSE ALL; UNLISTEN *;
    /// pg_advisory_unlock_all(); DISCARD …</c>, seven statements) each time it goes back to the pool, which was a
    /// quarter of all the statements of a settlement. Satsub leaves no session state behind: it sets nothing with
    /// <c>SET</c>, its transaction locks end with their transactions, and the one session lock it takes
    /// (<see cref="Hosting.JobCoordinator"/>) lives on connections of a separate pool that does reset.</item>
    /// </list>
    /// </summary>
    public static string WithPoolDefaults(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        var csb = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        if (!given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare"))
        {
            csb.MaxAutoPrepare = 200;
            if (!given.ContainsKey("Auto Prepare Min Usages") && !given.ContainsKey("AutoPrepareMinUsages")) csb.AutoPrepareMinUsages = 2;
        }
        if (!given.ContainsKey("No Reset On Close") && !given.ContainsKey("NoResetOnClose")) csb.NoResetOnClose = true;
        return csb.ConnectionString;
    }

    public static void ConfigureSqlite(DbContextOptionsBuilder o, string connectionString) =>
        o.UseSqlite(connectionString, sq => sq.MigrationsHistoryTable("__ef_migrations_history"))
         .UseSnakeCaseNamingConvention();

    /// <summary>Makes the folder of a SQLite file exist and sets a generous busy timeout.</summary>
    public static string PrepareSqlite(string connectionString)
    {
        var csb = new SqliteConnectionStringBuilder(connectionString);
        if (csb.DataSource is { Length: > 0 } file && file != ":memory:" && csb.Mode != SqliteOpenMode.Memory)
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(file));
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        }
        if (csb.DefaultTimeout < 30) csb.DefaultTimeout = 30;
        return csb.ToString();
    }

    /// <summary>How long one migration statement may run.</summary>
    public static readonly TimeSpan MigrationCommandTimeout = TimeSpan.FromMinutes(30);

    /// <summary>Applies migrations; on SQLite also switches to WAL so readers never block the writer.</summary>
    public static async Task MigrateAsync(IServiceProvider services, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
        if (!db.IsPostgres) await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        // A migration may move a large table's data (Reports splits every stored report into parts: minutes on a year
        // of a busy store); the default 30 s would fail it half-way and the next start would try again. The pooled
        // context's time-out is reset when it goes back to the pool.
        db.Database.SetCommandTimeout(MigrationCommandTimeout);
        await db.Database.MigrateAsync(ct);
    }
}
