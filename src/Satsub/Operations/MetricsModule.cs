using OpenTelemetry.Metrics;
using Satsub.Api;

namespace Satsub.Operations;

public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>When true, <c>/metrics</c> needs an admin API key (Authorization: Bearer sk_…). Open by default, as
    /// Prometheus scrapers usually sit on a private network; turn it on when the port is reachable from outside.</summary>
    public bool RequireAdminKey { get; set; }
}

public static class MetricsModule
{
    public const string Path = "/metrics";

    /// <summary>The instruments; every host has them (settlement records into them even from the CLI).</summary>
    public static IHostApplicationBuilder AddSatsubMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<SatsubMetrics>();
        builder.Services.AddOptions<MetricsOptions>().BindConfiguration(MetricsOptions.Section);
        return builder;
    }

    /// <summary>The Prometheus exporter; only the web host (<c>satsub serve</c>) has it.</summary>
    public static IHostApplicationBuilder AddPrometheusMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenTelemetry().WithMetrics(m => m
            .AddMeter(SatsubMetrics.MeterName)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        return builder;
    }

    public static WebApplication MapSatsubMetrics(this WebApplication app)
    {
        var endpoint = app.MapPrometheusScrapingEndpoint(Path);
        var options = app.Configuration.GetSection(MetricsOptions.Section).Get<MetricsOptions>() ?? new MetricsOptions();
        if (options.RequireAdminKey) endpoint.RequireAuthorization(ApiCaller.AdminPolicy);
        return app;
    }
}
