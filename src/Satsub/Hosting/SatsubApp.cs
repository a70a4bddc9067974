using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Satsub.Affiliates;
using Satsub.Affiliates.Rating;
using Satsub.Affiliates.Standings;
using Satsub.Api;
using Satsub.ApiKeys;
using Satsub.Bitcoin;
using Satsub.Dashboard;
using Satsub.Data;
using Satsub.Exports;
using Satsub.Integrations.Webhooks;
using Satsub.Operations;
using Satsub.Payments;
using Satsub.Payments.Inbox;
using Satsub.Payouts;
using Satsub.Plans;
using Satsub.Refunds;
using Satsub.Settlement;
using Satsub.Subscriptions;
using Satsub.Telegram;
using Satsub.Transparency;
using Satsub.Users;

namespace Satsub.Hosting;

/// <summary>Composes the modules into one web application; used by <c>satsub serve</c>, the other commands and the tests.</summary>
public static class SatsubApp
{
    public const string DefaultUrl = "http://localhost:5080";

    public static WebApplicationBuilder CreateBuilder(string[] args, bool forCommandLine = false)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // appsettings.json sits beside the binary, wherever the process is started from.
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (string.IsNullOrEmpty(builder.Configuration["urls"])) builder.WebHost.UseUrls(DefaultUrl);
        if (forCommandLine)
        {
            // stdout belongs to the command's output (a new API key is its last line): logs go to stderr.
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole().AddFilter(level => level >= LogLevel.Warning);
            builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        }
        builder.AddSatsubServices();
        if (!forCommandLine)
        {
            builder.AddDatabaseInitializer();
            builder.AddAffiliateStandings();
            builder.Services.AddPaymentWorkers(builder.Configuration);
            builder.Services.AddHostedService<HoldReleaseWorker>();
            builder.Services.AddPayoutWorker();
            builder.AddOutgoingWebhookWorkers();
            builder.Services.AddReportClosingJob();
            builder.AddTelegramWorkers();
            builder.AddPrometheusMetrics();
            builder.AddSatsubLogging();
        }
        return builder;
    }

    public static IHostApplicationBuilder AddSatsubServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton(DatabaseReadiness.AlreadyReady());
        builder.AddData();
        builder.AddPayments();
        builder.AddPayouts();

        builder.Services.AddOptions<AffiliateOptions>().BindConfiguration(AffiliateOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AffiliateOptions>, AffiliateOptionsValidator>();
        builder.Services.AddOptions<BitcoinOptions>().BindConfiguration(BitcoinOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<BitcoinOptions>, BitcoinOptionsValidator>();
        builder.Services.AddOptions<PlansOptions>().BindConfiguration(PlansOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PlansOptions>, PlansOptionsValidator>();

        builder.Services.AddOptions<RatingOptions>().BindConfiguration(RatingOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RatingOptions>, RatingOptionsValidator>();

        builder.Services.AddSingleton<CommissionRates>();
        builder.Services.AddScoped<Leaderboard>();
        builder.Services.AddScoped<AffiliateProfile>();
        builder.Services.AddScoped<HoldRelease>();
        builder.Services.AddScoped<Refunds.RefundService>();
        builder.Services.AddScoped<SettlementService>();
        builder.Services.AddScoped<PurchaseService>();
        builder.Services.AddScoped<UserRegistration>();
        builder.Services.AddScoped<PlanCatalog>();
        builder.Services.AddScoped<ApiKeyService>();
        builder.Services.AddSingleton<ApiKeyCache>();

        builder.AddOutgoingWebhooks();
        builder.AddTransparency();
        builder.AddDashboard();
        builder.AddTelegram();
        builder.AddSatsubApi();
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database");
        builder.AddSatsubHealth();
        builder.AddSatsubMetrics();
        builder.AddJobCoordination();
        builder.AddExports();
        return builder;
    }

    public static WebApplication MapSatsub(this WebApplication app)
    {
        app.UseRequestId();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseStartupGate();
        app.MapSatsubHealth();
        app.MapSatsubMetrics();
        app.MapExportsApi();
        app.MapPaymentWebhooks();
        app.MapInvoiceQr();
        app.MapSatsubApi();
        app.MapOutgoingWebhooksApi();
        app.MapTelegram();
        var api = app.MapGroup("/api/v1").RequireRateLimiting(ApiModule.RateLimitPolicy);
        api.MapLeaderboardApi();
        api.MapCommissionsApi();
        api.MapRefundsApi();
        app.MapTransparency();
        app.MapDashboard();
        api.MapEconomyApi();
        return app;
    }

    /// <summary>Checks every option; a wrong one throws <see cref="OptionsValidationException"/> naming the key.</summary>
    public static void ValidateOptions(IServiceProvider services) => services.GetRequiredService<IStartupValidator>().Validate();

    /// <summary>
    /// Checks every option (a wrong one throws <see cref="OptionsValidationException"/> naming the key),
    /// applies migrations and the configured plans.
    /// </summary>
    public static async Task PrepareAsync(IServiceProvider services, bool migrate, CancellationToken ct)
    {
        ValidateOptions(services);
        if (migrate) await DataModule.MigrateAsync(services, ct);
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<PlanCatalog>().ApplyConfigurationAsync(ct);
        await Affiliates.Standings.StandingsStartup.RunAsync(services, ct);
    }
}

internal sealed class DatabaseHealthCheck(SatsubDbContext db, DatabaseReadiness readiness) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Reachable is not enough while the server starts: the schema and the plans must be there.
        if (!readiness.IsReady)
            return HealthCheckResult.Unhealthy(readiness.Failed ? "The database could not be prepared." : "The database is being prepared.");
        try
        {
            return await db.Database.CanConnectAsync(cancellationToken)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy("The database cannot be reached.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database cannot be reached.");
        }
    }
}
