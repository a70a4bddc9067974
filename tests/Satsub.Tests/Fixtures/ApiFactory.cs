using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Satsub.ApiKeys;
using Satsub.Data;

namespace Satsub.Tests.Fixtures;

/// <summary>
/// The whole app (<c>satsub serve</c>'s entry point) in memory through <see cref="WebApplicationFactory{TEntryPoint}"/>,
/// on a fresh PostgreSQL database per test class (or a SQLite file, the embedded default, when <see cref="UseSqlite"/>),
/// in Development with the sandbox provider, and with an admin key.
/// </summary>
public class ApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string WebhookSecret = "test-webhook-secret";
    private string connectionString = "";

    public string AdminKey { get; private set; } = "";

    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    protected virtual bool UseSqlite => false;

    private string? sqliteFile;

    public async Task InitializeAsync()
    {
        if (UseSqlite)
        {
            sqliteFile = Path.Combine(Path.GetTempPath(), $"satsub-api-{Guid.NewGuid():N}.db");
            connectionString = $"Data Source={sqliteFile}";
        }
        else
        {
            connectionString = await TestPostgres.CreateDatabaseAsync();
        }
        _ = Server; // builds and starts the app: migrations and plans are applied by its DatabaseInitializer…
        await Services.GetRequiredService<Satsub.Hosting.DatabaseReadiness>().WaitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)); // …in the background
        AdminKey = await CreateKeyAsync("admin");
        await SeedAsync();
    }

    /// <summary>Data a test class shares, made once after the app started.</summary>
    protected virtual Task SeedAsync() => Task.CompletedTask;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Database:Provider"] = UseSqlite ? "sqlite" : "postgres",
            ["ConnectionStrings:Satsub"] = connectionString,
            ["Payments:Provider"] = "sandbox",
            ["Payments:Generic:Secret"] = WebhookSecret,
            ["Bitcoin:Network"] = "mainnet",
            ["Api:RateLimit:PermitsPerSecond"] = "100000",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Satsub"] = "Warning",
            // Expected races (concurrent duplicates meeting a unique index) are logged by EF as errors: keep the output readable.
            ["Logging:LogLevel:Microsoft.EntityFrameworkCore.Database.Command"] = "None",
            ["Logging:LogLevel:Microsoft.EntityFrameworkCore.Update"] = "None",
        };
        foreach (var (k, v) in Settings) settings[k] = v;
        builder.UseEnvironment("Development");
        foreach (var (k, v) in settings) builder.UseSetting(k, v);
        LogCapture.AddSecretsFromSettings(settings);
        LogCapture.AddSecret(WebhookSecret, "Payments:Generic:Secret");
        builder.ConfigureLogging(logging =>
        {
            logging.AddProvider(new ErrorCollector(Errors));
            // Every line at Information and above, whatever the categories' levels, for the suite's secret scan.
            logging.AddLogCapture();
        });
    }

    /// <summary>Errors the app logged (with their exceptions): a failing test shows what went wrong inside.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Errors { get; } = new();

    private sealed class ErrorCollector(System.Collections.Concurrent.ConcurrentQueue<string> errors) : Microsoft.Extensions.Logging.ILoggerProvider
    {
        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(errors);

        public void Dispose() { }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> errors) : Microsoft.Extensions.Logging.ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Error;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel)) errors.Enqueue(formatter(state, exception) + " " + exception);
            }
        }
    }

    public async Task<string> CreateKeyAsync(string scopes, string name = "test")
    {
        await using var scope = Services.CreateAsyncScope();
        var (_, plaintext) = await scope.ServiceProvider.GetRequiredService<ApiKeyService>().CreateAsync(name, scopes, default);
        LogCapture.AddSecret(plaintext, "API key " + name);
        return plaintext;
    }

    public async Task RevokeAsync(string plaintext)
    {
        await using var scope = Services.CreateAsyncScope();
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyService>();
        var key = await keys.AuthenticateAsync(plaintext, default) ?? throw new InvalidOperationException("unknown key");
        await keys.RevokeAsync(key.Id, default);
    }

    public async Task<T> DbAsync<T>(Func<SatsubDbContext, Task<T>> query)
    {
        await using var scope = Services.CreateAsyncScope();
        return await query(scope.ServiceProvider.GetRequiredService<SatsubDbContext>());
    }

    /// <summary>A client that sends <paramref name="key"/> as its bearer token (none when null).</summary>
    public HttpClient Client(string? key)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public HttpClient Admin() => Client(AdminKey);

    /// <summary>Registers a user through the API with the admin key; returns its JSON (user_id, referral_code…).</summary>
    public async Task<JsonElement> RegisterAsync(string platform = "telegram", string? referral = null, string? username = null)
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        var body = platform is "telegram" or "discord"
            ? new Dictionary<string, object?> { ["platform"] = platform, ["external_id"] = id, ["username"] = username ?? "u" + id, ["referral_id"] = referral }
            : new Dictionary<string, object?> { ["platform"] = platform, ["username"] = username ?? "u" + id, ["referral_id"] = referral };
        var response = await Admin().PostAsync("/api/v1/users", Http.Json(body));
        return await response.AssertStatusAsync(201);
    }

    /// <summary>Buys a plan through the API; returns the subscription JSON (with its invoice).</summary>
    public async Task<JsonElement> BuyAsync(string userId, string plan = "basic", string method = "lightning")
    {
        var response = await Admin().PostAsync("/api/v1/subscriptions", Http.Json(new Dictionary<string, object?>
        {
            ["user_id"] = userId,
            ["subscription_type"] = plan,
            ["payment_data"] = new Dictionary<string, object?> { ["method"] = method },
        }));
        return await response.AssertStatusAsync(201);
    }

    public async Task<JsonElement> SettleAsync(string invoiceId)
    {
        var response = await Admin().PostAsync($"/api/v1/admin/invoices/{invoiceId}/settle", null);
        return await response.AssertStatusAsync(200);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        if (sqliteFile is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in new[] { sqliteFile, sqliteFile + "-wal", sqliteFile + "-shm" })
                if (File.Exists(f)) File.Delete(f);
        }
        else if (connectionString.Length > 0)
        {
            await TestPostgres.DropDatabaseAsync(connectionString);
        }
    }
}

/// <summary>Small helpers for JSON answers.</summary>
public static class Http
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static StringContent Json(object body) => Json(JsonSerializer.Serialize(body));

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text.Length == 0 ? "null" : text).RootElement.Clone();
    }

    public static string Str(this JsonElement e, string name) => e.GetProperty(name).GetString()!;

    public static long Long(this JsonElement e, string name) => e.GetProperty(name).GetInt64();

    /// <summary>Asserts an RFC 9457 problem with the expected status and code; returns its JSON.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, int status, string? code = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var json = JsonDocument.Parse(body).RootElement.Clone();
        Assert.Equal(status, json.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(json.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrEmpty(json.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrEmpty(json.GetProperty("detail").GetString()));
        var actual = json.GetProperty("code").GetString();
        if (code is not null) Assert.Equal(code, actual);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal); // no stack trace
        return json;
    }

    public static async Task<JsonElement> AssertStatusAsync(this HttpResponseMessage response, int status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body.Length == 0 ? "null" : body).RootElement.Clone();
    }

    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string url, object body) =>
        client.PostAsJsonAsync(url, body);
}
