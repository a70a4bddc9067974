using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Hosting;

namespace Satsub.Tests.Fixtures;

/// <summary>
/// The real Satsub web application — every module, every worker — on a real Kestrel port on loopback, with its
/// own fresh PostgreSQL (or SQLite) database. Settings are given the way an operator gives them.
/// </summary>
public sealed class SatsubServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly string? postgres;

    private SatsubServer(WebApplication app, Uri baseUri, string? postgres)
    {
        this.app = app;
        BaseUri = baseUri;
        this.postgres = postgres;
    }

    public Uri BaseUri { get; }
    public IServiceProvider Services => app.Services;
    public HttpClient CreateClient() => new() { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };

    public static async Task<SatsubServer> StartAsync(IDictionary<string, string?> settings, DbKind kind = DbKind.Postgres)
    {
        string? pg = null;
        var config = new Dictionary<string, string?>(settings);
        if (kind == DbKind.Postgres)
        {
            pg = await TestPostgres.CreateDatabaseAsync();
            config["Database:Provider"] = "postgres";
            config["ConnectionStrings:Satsub"] = pg;
        }
        else
        {
            config["ConnectionStrings:Satsub"] = $"Data Source={Path.Combine(Path.GetTempPath(), $"satsub-server-{Guid.NewGuid():N}.db")}";
        }
        config["urls"] = "http://127.0.0.1:0";
        config.TryAdd("environment", "Development");
        var args = config.Select(kv => $"--{kv.Key}={kv.Value}").ToArray();
        var builder = SatsubApp.CreateBuilder(args);
        LogCapture.AddSecretsFromSettings(config);
        builder.Logging.AddLogCapture();
        var app = builder.Build();
        app.MapSatsub();
        SatsubApp.ValidateOptions(app.Services);
        await app.StartAsync();
        // Kestrel listens before the migrations finished (as /health tells a client): wait for them.
        await app.Services.GetRequiredService<DatabaseReadiness>().WaitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SatsubServer(app, new Uri(address.TrimEnd('/') + "/"), pg);
    }

    public async Task<T> WithAsync<TService, T>(Func<TService, Task<T>> action) where TService : notnull
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<TService>());
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds; the workers run on real time.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan? within = null, string? because = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("Timed out waiting" + (because is null ? "" : ": " + because));
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        if (postgres is not null) await TestPostgres.DropDatabaseAsync(postgres);
    }
}
