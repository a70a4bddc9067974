using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Satsub.Payments;

namespace Satsub.Operations;

/// <summary>
/// <c>/health/live</c>: the process answers (no dependency: a liveness probe must not restart the process because
/// the database is down). <c>/health/ready</c>: the database (unreachable → 503, take the instance out of the load
/// balancer) and each configured payment provider (unreachable → Degraded, still 200: invoices cannot be created
/// but webhooks, the API and the bot still work, and reconciliation catches up). <c>/health</c>: the database only.
/// </summary>
public static class HealthModule
{
    public const string ReadyTag = "ready";

    public static IHostApplicationBuilder AddSatsubHealth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks()
            .AddCheck<PaymentProvidersHealthCheck>("payment_providers", HealthStatus.Degraded, [ReadyTag]);
        return builder;
    }

    public static WebApplication MapSatsubHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = c => c.Name == "database" });
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = c => c.Name == "database" || c.Tags.Contains(ReadyTag),
            ResponseWriter = WriteAsync,
        });
        return app;
    }

    // {"status":"degraded","checks":{"database":{"status":"healthy"},"payment_providers":{"status":"degraded","detail":"…"}}}
    private static Task WriteAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        http.Response.Headers.CacheControl = "no-store";
        var body = new Dictionary<string, object>
        {
            ["status"] = Name(report.Status),
            ["checks"] = report.Entries.ToDictionary(e => e.Key, e => e.Value.Description is { } d
                ? (object)new Dictionary<string, string> { ["status"] = Name(e.Value.Status), ["detail"] = d }
                : new Dictionary<string, string> { ["status"] = Name(e.Value.Status) }),
        };
        return http.Response.WriteAsync(JsonSerializer.Serialize(body));
    }

    private static string Name(HealthStatus s) => s.ToString().ToLowerInvariant();
}

/// <summary>
/// Opens a TCP connection to each configured provider's <c>Payments:&lt;Provider&gt;:Url</c> (a short timeout, no
/// request, no credentials): enough to tell "the node or processor is down or unroutable" from "it answers".
/// The sandbox has no server and is always reachable.
/// </summary>
internal sealed class PaymentProvidersHealthCheck(IOptions<PaymentsOptions> options, IConfiguration configuration) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var targets = options.Value.SelectedProviders()
            .Where(p => p != SandboxPaymentProvider.ProviderName)
            .Select(p => (Name: p, Url: configuration[$"{PaymentsOptions.Section}:{p}:Url"]))
            .ToList();
        var results = await Task.WhenAll(targets.Select(async t => (t.Name, Up: await ReachableAsync(t.Url, cancellationToken))));
        var down = results.Where(r => !r.Up).Select(r => r.Name).ToList();
        return down.Count == 0
            ? HealthCheckResult.Healthy(targets.Count == 0 ? "sandbox" : string.Join(", ", targets.Select(t => t.Name)) + " reachable")
            : HealthCheckResult.Degraded($"unreachable: {string.Join(", ", down)}");
    }

    private static async Task<bool> ReachableAsync(string? url, CancellationToken ct)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return false;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(uri.IdnHost, uri.Port, timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
