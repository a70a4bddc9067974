using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Satsub.Common;
using Satsub.Data;
using Satsub.Hosting;
using Satsub.Payments;
using Satsub.Settlement;
using Satsub.Subscriptions;
using Satsub.Users;

namespace Satsub.Tests.Fixtures;

public enum DbKind
{
    Sqlite,
    Postgres,
}

/// <summary>
/// Satsub's real services (no web server) on a fresh, migrated database of either kind, with a fake clock.
/// </summary>
public sealed class SatsubServices : IAsyncDisposable
{
    private readonly IHost host;
    private readonly string connectionString;
    private readonly string? sqliteFile;

    private SatsubServices(IHost host, DbKind kind, string connectionString, string? sqliteFile, FakeTimeProvider clock)
    {
        this.host = host;
        Kind = kind;
        this.connectionString = connectionString;
        this.sqliteFile = sqliteFile;
        Clock = clock;
    }

    public DbKind Kind { get; }
    public FakeTimeProvider Clock { get; }
    public IServiceProvider Services => host.Services;

    public static readonly DateTimeOffset Start = new(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);

    public static async Task<SatsubServices> StartAsync(DbKind kind, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        string connection;
        string? file = null;
        if (kind == DbKind.Postgres)
        {
            connection = await TestPostgres.CreateDatabaseAsync();
        }
        else
        {
            file = Path.Combine(Path.GetTempPath(), $"satsub-test-{Guid.NewGuid():N}.db");
            connection = $"Data Source={file}";
        }

        var config = new Dictionary<string, string?>
        {
            ["Database:Provider"] = kind == DbKind.Postgres ? "postgres" : "sqlite",
            ["ConnectionStrings:Satsub"] = connection,
            ["Payments:Provider"] = "sandbox",
            ["Plans:basic:Name"] = "Basic",
            ["Plans:basic:Description"] = "Basic access",
            ["Plans:basic:PriceSats"] = "10000",
            ["Plans:basic:DurationDays"] = "30",
            ["Plans:premium:Name"] = "Premium",
            ["Plans:premium:Description"] = "Premium access",
            ["Plans:premium:PriceSats"] = "25001",
            ["Plans:premium:DurationDays"] = "30",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) config[k] = v;

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = Environments.Development,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(config);
        LogCapture.AddSecretsFromSettings(config);
        builder.Logging.AddLogCapture();
        builder.AddSatsubServices();
        var clock = new FakeTimeProvider(Start);
        builder.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(clock));
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await SatsubApp.PrepareAsync(host.Services, migrate: true, CancellationToken.None);
        return new SatsubServices(host, kind, connection, file, clock);
    }

    public AsyncServiceScope Scope() => host.Services.CreateAsyncScope();

    public async Task<T> WithAsync<TService, T>(Func<TService, Task<T>> action) where TService : notnull
    {
        await using var scope = Scope();
        return await action(scope.ServiceProvider.GetRequiredService<TService>());
    }

    public Task<T> DbAsync<T>(Func<SatsubDbContext, Task<T>> query) => WithAsync(query);

    public async Task<User> RegisterAsync(string? referral = null, string platform = "telegram")
    {
        var externalId = Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (user, _) = await WithAsync<UserRegistration, (User, bool)>(r =>
            r.RegisterAsync(new RegistrationRequest(platform, platform == "website" ? null : externalId, "user" + externalId, referral), default));
        return user;
    }

    public async Task<Invoice> BuyAsync(Guid userId, string plan = "basic", PaymentMethod method = PaymentMethod.Lightning)
    {
        var (_, invoice) = await WithAsync<PurchaseService, (Subscription, Invoice)>(p => p.StartAsync(userId, plan, method, default));
        return invoice;
    }

    /// <summary>An open invoice of another provider, written directly (as if that provider had created it).</summary>
    public async Task<Invoice> OpenInvoiceAsync(Guid userId, string provider, string providerInvoiceId, long amountSats = 10_000, string plan = "basic")
    {
        var now = Clock.GetUtcNow();
        return await DbAsync(async db =>
        {
            var subscription = await db.Subscriptions.FirstOrDefaultAsync(s => s.UserId == userId && s.PlanCode == plan);
            if (subscription is null)
            {
                subscription = new Subscription(Guid.CreateVersion7(now), userId, plan, now);
                db.Subscriptions.Add(subscription);
            }
            var invoice = new Invoice
            {
                Id = Guid.CreateVersion7(now), SubscriptionId = subscription.Id, UserId = userId, PlanCode = plan, DurationDays = 30,
                Provider = provider, ProviderInvoiceId = providerInvoiceId, Method = PaymentMethod.Lightning, AmountSats = amountSats,
                Status = InvoiceStatus.New, CreatedAt = now, ExpiresAt = now.AddMinutes(30),
            };
            db.Invoices.Add(invoice);
            await db.SaveChangesAsync();
            return invoice;
        });
    }

    public Task<SettlementResult> SettleAsync(Guid invoiceId, string? eventId = null) =>
        WithAsync<SettlementService, SettlementResult>(s =>
            s.SettleAsync(invoiceId, new PaymentEvidence(SandboxPaymentProvider.ProviderName, eventId ?? "evt-" + invoiceId.ToString("N"))));

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
        if (Kind == DbKind.Postgres)
        {
            await TestPostgres.DropDatabaseAsync(connectionString);
        }
        else
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var f in new[] { sqliteFile!, sqliteFile + "-wal", sqliteFile + "-shm" })
                if (File.Exists(f)) File.Delete(f);
        }
    }
}

/// <summary>One database per test class: xunit creates it before the class's tests and drops it after.</summary>
public abstract class DatabaseFixture(DbKind kind) : IAsyncLifetime
{
    public SatsubServices App { get; private set; } = null!;

    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    protected virtual void ConfigureServices(IServiceCollection services) { }

    public async Task InitializeAsync() => App = await SatsubServices.StartAsync(kind, Settings, ConfigureServices);

    public async Task DisposeAsync() => await App.DisposeAsync();
}

public sealed class SqliteFixture() : DatabaseFixture(DbKind.Sqlite);

public sealed class PostgresFixture() : DatabaseFixture(DbKind.Postgres);
