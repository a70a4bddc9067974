using System.Globalization;
using Satsub.Admin;
using Satsub.Api;

namespace Satsub.Exports;

/// <summary><c>GET /api/v1/admin/exports/{users|sales|commissions|payouts}.csv?from=&amp;to=</c> (admin key).</summary>
public static class ExportsApi
{
    public static IHostApplicationBuilder AddExports(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<CsvExporter>();
        return builder;
    }

    public static WebApplication MapExportsApi(this WebApplication app)
    {
        app.MapGroup("/api/v1/admin/exports").RequireRateLimiting(ApiModule.RateLimitPolicy)
            .WithTags("Admin").RequireAuthorization(ApiCaller.AdminPolicy)
            .MapGet("/{file}", ExportAsync)
            .WithSummary("Export users, sales, commissions or payouts as CSV, streamed")
            .WithDescription("`file` is users.csv, sales.csv, commissions.csv or payouts.csv. Optional `from` (inclusive) and `to` (exclusive): ISO 8601 dates or times, UTC unless an offset is given. Cells that a spreadsheet would run as a formula are prefixed with an apostrophe.")
            .Produces(200, contentType: "text/csv").ProducesProblem(400).ProducesProblem(404);
        return app;
    }

    private static async Task<IResult> ExportAsync(string file, string? from, string? to, HttpContext http, CsvExporter exporter, AuditLog audit, CancellationToken ct)
    {
        if (!file.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || !CsvExporter.TryParseKind(file[..^4], out var kind))
            return ApiProblems.NotFound("not_found", "Exports are users.csv, sales.csv, commissions.csv and payouts.csv.");
        if (!TryParseWindow(from, to, out var window, out var error))
            return ApiProblems.Problem(400, "bad_request", error);

        var name = kind.ToString().ToLowerInvariant();
        await audit.RecordAsync(http, "export." + name, null, $"from={from} to={to}");
        http.Response.ContentType = "text/csv; charset=utf-8";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{name}.csv\"";
        http.Response.Headers.CacheControl = "no-store";
        await using var writer = new StreamWriter(http.Response.Body, new System.Text.UTF8Encoding(false), 64 * 1024, leaveOpen: true);
        await exporter.WriteAsync(kind, window, writer, ct);
        return Results.Empty;
    }

    /// <summary>Parses <c>from</c>/<c>to</c> (ISO 8601, UTC unless an offset is given); null when absent.</summary>
    public static bool TryParseWindow(string? from, string? to, out ExportWindow window, out string error)
    {
        window = ExportWindow.All;
        error = "";
        if (!TryParseTime(from, out var f)) { error = $"from must be an ISO 8601 date or time (was '{from}')."; return false; }
        if (!TryParseTime(to, out var t)) { error = $"to must be an ISO 8601 date or time (was '{to}')."; return false; }
        if (f is not null && t is not null && f >= t) { error = "from must be before to."; return false; }
        window = new ExportWindow(f, t);
        return true;
    }

    private static bool TryParseTime(string? text, out DateTimeOffset? value)
    {
        value = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (!DateTimeOffset.TryParse(text.Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            return false;
        value = parsed;
        return true;
    }
}
