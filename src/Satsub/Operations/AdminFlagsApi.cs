using System.ComponentModel;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Satsub.Admin;
using Satsub.Api;
using Satsub.Data;

namespace Satsub.Operations;

public sealed record FlagItem(string Id,
    [property: Description("What raised it: commission_held_for_review, affiliate_refund_rate, referral_velocity, commission_clawback, payment_…")] string Kind,
    [property: Description("What it is about, such as \"affiliate {id}\".")] string Subject,
    [property: Description("The reason, in words.")] string Detail,
    DateTimeOffset CreatedAt, DateTimeOffset? ResolvedAt);

/// <summary><c>GET /api/v1/admin/flags</c> and <c>POST /api/v1/admin/flags/{id}/resolve</c>: what the owner must look at, with its reason.</summary>
public static class AdminFlagsApi
{
    public static RouteGroupBuilder MapAdminFlagsApi(this RouteGroupBuilder api)
    {
        var admin = api.MapGroup("/admin/flags").WithTags("Admin").RequireAuthorization(ApiCaller.AdminPolicy);
        admin.MapGet("/", ListAsync)
            .WithSummary("Flags raised for the admin (fraud guards, clawbacks, payment exceptions), newest first")
            .WithDescription("`status=open` (default), `resolved` or `all`; `kind` filters by kind.")
            .ProducesProblem(400);
        admin.MapPost("/{flag_id}/resolve", ResolveAsync)
            .WithSummary("Mark a flag as dealt with").ProducesProblem(404);
        return api;
    }

    private static async Task<Results<Ok<Page<FlagItem>>, ValidationProblem>> ListAsync(
        [FromQuery] string? status, [FromQuery] string? kind, [FromQuery] string? cursor, [FromQuery] string? limit, SatsubDbContext db, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var (before, take) = Paging.Parse(errors, cursor, limit);
        status = string.IsNullOrWhiteSpace(status) ? "open" : status.Trim().ToLowerInvariant();
        if (status is not ("open" or "resolved" or "all")) errors.Add("status", "must be open, resolved or all.");
        if (kind is { Length: > 64 }) errors.Add("kind", "is at most 64 characters.");
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());

        var query = db.AdminFlags.AsNoTracking().Where(f => before == 0 || f.Id < before);
        if (status == "open") query = query.Where(f => f.ResolvedAt == null);
        else if (status == "resolved") query = query.Where(f => f.ResolvedAt != null);
        if (!string.IsNullOrWhiteSpace(kind)) query = query.Where(f => f.Kind == kind.Trim());
        var rows = await query.OrderByDescending(f => f.Id).Take(take + 1).ToListAsync(ct);
        var items = rows.Take(take).Select(View).ToList();
        return TypedResults.Ok(new Page<FlagItem>(items, rows.Count > take ? Paging.Cursor(rows[take - 1].Id) : null));
    }

    private static async Task<Results<Ok<FlagItem>, ProblemHttpResult>> ResolveAsync(
        [FromRoute(Name = "flag_id")] string flagId, SatsubDbContext db, TimeProvider clock, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (!long.TryParse(flagId, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            return ApiProblems.NotFound("flag_not_found", "No such flag.");
        var now = clock.GetUtcNow();
        await db.AdminFlags.Where(f => f.Id == id && f.ResolvedAt == null).ExecuteUpdateAsync(s => s.SetProperty(f => f.ResolvedAt, now), ct);
        var flag = await db.AdminFlags.AsNoTracking().SingleOrDefaultAsync(f => f.Id == id, ct);
        if (flag is null) return ApiProblems.NotFound("flag_not_found", "No such flag.");
        await audit.RecordAsync(http, "flag.resolve", flagId);
        return TypedResults.Ok(View(flag));
    }

    private static FlagItem View(AdminFlag f) =>
        new(f.Id.ToString(CultureInfo.InvariantCulture), f.Kind, f.Subject, f.Detail, f.CreatedAt, f.ResolvedAt);
}
