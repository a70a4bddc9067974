using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Satsub.Api;
using Satsub.Bitcoin;

namespace Satsub.Transparency;

public sealed record RulesView(int AffiliateBaseBps, int OwnerBaseBps, int HoldDays, int Levels, IReadOnlyList<TierRule> Tiers);

public sealed record TransparencyView(RulesView Rules, TransparencyTotals Totals, IReadOnlyList<MonthPoint> Months, DateTimeOffset AsOf,
    string? SigningAddress, string? SigningScheme);

public sealed record ReportView(
    string Month,
    string Status,
    bool Signed,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    DateTimeOffset? ClosedAt,
    ReportTotals Totals,
    IAsyncEnumerable<ReportRow> Rows,
    string Canonical,
    string Sha256,
    ReportSignature? Signature);

/// <summary>The public transparency endpoints and page (no key), the report closing job, and the services the bot uses.</summary>
public static class TransparencyModule
{
    public static IHostApplicationBuilder AddTransparency(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TransparencyOptions>().BindConfiguration(TransparencyOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TransparencyOptions>, TransparencyOptionsValidator>();
        builder.Services.AddScoped<MonthlyReports>();
        builder.Services.AddScoped<TransparencySummary>();
        return builder;
    }

    public static IServiceCollection AddReportClosingJob(this IServiceCollection services) => services.AddHostedService<ReportClosingJob>();

    public static WebApplication MapTransparency(this WebApplication app)
    {
        WebPages.MapAssets(app);
        var api = app.MapGroup("/api/v1").RequireRateLimiting(ApiModule.RateLimitPolicy).WithTags("Transparency").AllowAnonymous();
        api.MapGet("/transparency", GetAsync)
            .WithSummary("The split rules, totals to date and the last 12 months (public, no key)");
        api.MapGet("/reports/{month}", ReportAsync)
            .WithSummary("A month's report as JSON or CSV (public, no key)")
            .WithDescription("`month` is `yyyy-MM`. The current month is `open` and unsigned; a closed month is final, stored, and signed with the owner's " +
                "bitcoin key. `?format=csv` answers the canonical CSV, whose SHA-256 is `sha256` (docs/transparency.md).")
            .Produces<ReportView>().Produces(200, contentType: "text/csv").ProducesProblem(400).ProducesProblem(404);
        app.MapGet("/transparency", PageAsync).ExcludeFromDescription().RequireRateLimiting(ApiModule.RateLimitPolicy);
        return app;
    }

    private static async Task<IResult> GetAsync(TransparencySummary summary, IOptions<TransparencyOptions> options, IOptions<BitcoinOptions> bitcoin, CancellationToken ct)
    {
        var s = await summary.GetAsync(ct);
        var signer = ReportSigner.Create(options.Value, bitcoin.Value.ToNBitcoin());
        return TypedResults.Ok(new TransparencyView(
            new RulesView(s.Rules.AffiliateBaseBps, s.Rules.OwnerBaseBps, s.Rules.HoldDays, s.Rules.Levels, s.Rules.Tiers),
            s.Totals, s.Months, s.AsOf, signer?.Address.ToString(), signer?.Scheme));
    }

    private static async Task<IResult> ReportAsync(string month, [FromQuery] string? format, MonthlyReports reports, HttpContext http, CancellationToken ct)
    {
        var errors = new FieldErrors();
        if (!MonthlyReports.TryParseMonth(month, out var m)) errors.Add("month", "must be a month as yyyy-MM, such as 2026-01.");
        var csv = format is null || format.Equals("json", StringComparison.OrdinalIgnoreCase)
            ? false
            : format.Equals("csv", StringComparison.OrdinalIgnoreCase) ? true : (bool?)null;
        if (csv is null) errors.Add("format", "must be json or csv.");
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());

        var report = await reports.GetAsync(m, ct);
        if (report is null) return ApiProblems.NotFound("not_found", $"The month {month} has not begun.");
        // Streamed after this returns: the open month's temporary file lives until the response is written.
        http.Response.RegisterForDisposeAsync(report);
        http.Response.Headers["Satsub-Report-Status"] = report.Closed ? "closed" : "open";
        http.Response.Headers["Satsub-Report-Sha256"] = report.Sha256;
        if (csv == true)
        {
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"satsub-report-{report.Month}.csv\"";
            // The canonical bytes exactly (UTF-8 without a byte-order mark), part by part.
            return Results.Stream(body => report.WriteCsvAsync(body, http.RequestAborted), "text/csv; charset=utf-8");
        }
        return TypedResults.Ok(new ReportView(report.Month, report.Closed ? "closed" : "open", report.Signature is not null, report.PeriodStart,
            report.PeriodEnd, report.ClosedAt, report.Totals, report.RowsAsync(http.RequestAborted), "csv", report.Sha256, report.Signature));
    }

    private static async Task<IResult> PageAsync(HttpContext http, TransparencySummary summary, MonthlyReports reports, IOptions<TransparencyOptions> options,
        IOptions<BitcoinOptions> bitcoin, CancellationToken ct)
    {
        var s = await summary.GetAsync(ct);
        var signer = ReportSigner.Create(options.Value, bitcoin.Value.ToNBitcoin());
        return WebPages.Page(http, "Satsub transparency", TransparencyPage.Render(s, signer), charts: true);
    }
}
