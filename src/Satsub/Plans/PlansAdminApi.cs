using System.ComponentModel;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Satsub.Admin;
using Satsub.Api;
using Satsub.Common;
using Satsub.Data;

namespace Satsub.Plans;

public sealed record PlanRequest(
    [property: Description("The plan code (1-32 of a-z, 0-9, '_', '-'); on PUT it comes from the path.")] string? Type,
    string? Name,
    string? Description,
    long? PriceSats,
    int? DurationDays,
    [property: Description("Telegram chat ids or @usernames the plan grants.")] List<string>? Chats,
    bool? Active);

public sealed record PlanView(string Type, string Name, string Description, long? PriceSats, decimal? FiatPrice, string? FiatCurrency,
    int DurationDays, IReadOnlyList<string> Chats, bool Active,
    [property: Description("config (defined in configuration, which wins at every start) or admin.")] string Source,
    DateTimeOffset UpdatedAt);

/// <summary>
/// <c>/api/v1/admin/plans</c>: plans not defined in configuration are created and edited here; any plan can be
/// deactivated (a configured plan comes back with its configured state at the next start).
/// </summary>
public static class PlansAdminApi
{
    public static RouteGroupBuilder MapPlansAdminApi(this RouteGroupBuilder api)
    {
        var plans = api.MapGroup("/admin/plans").WithTags("Admin").RequireAuthorization(ApiCaller.AdminPolicy);
        plans.MapGet("/", ListAsync).WithSummary("Every plan, active or not");
        plans.MapGet("/{type}", GetAsync).WithSummary("One plan").ProducesProblem(404);
        plans.MapPost("/", CreateAsync).WithSummary("Create a plan").ProducesProblem(400).ProducesProblem(409);
        plans.MapPut("/{type}", UpdateAsync).WithSummary("Replace a plan created through the API")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
        plans.MapDelete("/{type}", DeactivateAsync).WithSummary("Deactivate a plan (it stays for existing subscriptions)")
            .ProducesProblem(404);
        return api;
    }

    private static async Task<Ok<List<PlanView>>> ListAsync(PlanCatalog catalog, CancellationToken ct) =>
        TypedResults.Ok((await catalog.ListAsync(activeOnly: false, ct)).Select(View).ToList());

    private static async Task<Results<Ok<PlanView>, ProblemHttpResult>> GetAsync([FromRoute] string type, SatsubDbContext db, CancellationToken ct)
    {
        var plan = await db.Plans.AsNoTracking().SingleOrDefaultAsync(p => p.Code == type, ct);
        return plan is null ? NotFound(type) : TypedResults.Ok(View(plan));
    }

    private static async Task<Results<Created<PlanView>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        PlanRequest body, SatsubDbContext db, AuditLog audit, TimeProvider clock, HttpContext http, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var code = errors.Text("type", body.Type, 32, required: true);
        if (code is not null && !PlansOptionsValidator.CodePattern().IsMatch(code)) errors.Add("type", "is 1-32 characters of a-z, 0-9, '_' and '-'.");
        var plan = new Plan { Code = code ?? "", Source = Plan.FromAdmin };
        Apply(errors, body, plan);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        if (await db.Plans.AnyAsync(p => p.Code == code, ct)) return ApiProblems.Problem(409, "plan_exists", $"A plan '{code}' exists.");

        plan.UpdatedAt = clock.GetUtcNow();
        db.Plans.Add(plan);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            return ApiProblems.Problem(409, "plan_exists", $"A plan '{code}' exists.");
        }
        await audit.RecordAsync(http, "plan.create", plan.Code);
        return TypedResults.Created($"/api/v1/admin/plans/{plan.Code}", View(plan));
    }

    private static async Task<Results<Ok<PlanView>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        [FromRoute] string type, PlanRequest body, SatsubDbContext db, AuditLog audit, TimeProvider clock, HttpContext http, CancellationToken ct)
    {
        var plan = await db.Plans.SingleOrDefaultAsync(p => p.Code == type, ct);
        if (plan is null) return NotFound(type);
        var errors = new FieldErrors();
        if (body.Type is not null && body.Type != type) errors.Add("type", "must be absent or equal to the path's plan.");
        Apply(errors, body, plan);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        if (plan.Source == Plan.FromConfiguration)
            return ApiProblems.Problem(409, "plan_from_configuration", $"Plan '{type}' is defined in configuration (Plans:{type}), which wins at every start: change it there.");
        plan.UpdatedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(http, "plan.update", plan.Code);
        return TypedResults.Ok(View(plan));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeactivateAsync(
        [FromRoute] string type, SatsubDbContext db, AuditLog audit, TimeProvider clock, HttpContext http, CancellationToken ct)
    {
        var plan = await db.Plans.SingleOrDefaultAsync(p => p.Code == type, ct);
        if (plan is null) return NotFound(type);
        if (plan.Active)
        {
            plan.Active = false;
            plan.UpdatedAt = clock.GetUtcNow();
            await db.SaveChangesAsync(ct);
        }
        await audit.RecordAsync(http, "plan.deactivate", plan.Code);
        return TypedResults.NoContent();
    }

    private static void Apply(FieldErrors errors, PlanRequest body, Plan plan)
    {
        plan.Name = errors.Text("name", body.Name, 128, required: true) ?? "";
        plan.Description = errors.Text("description", body.Description, 2048) ?? "";
        if (body.PriceSats is not { } price) errors.Add("price_sats", "is required.");
        else if (price <= 0 || price > Sats.MaxMoney) errors.Add("price_sats", "must be a positive number of sats, at most 21 million BTC.");
        else plan.PriceSats = price;
        plan.FiatAmount = null;
        plan.FiatCurrency = null;
        if (body.DurationDays is not { } days) errors.Add("duration_days", "is required.");
        else if (days is < 1 or > 3660) errors.Add("duration_days", "must be between 1 and 3660.");
        else plan.DurationDays = days;
        var chats = body.Chats ?? [];
        if (chats.Count > 50) errors.Add("chats", "at most 50 chats.");
        else plan.Chats = chats.Select((c, i) => errors.Text($"chats[{i}]", c, 128, required: true) ?? "").ToList();
        plan.Active = body.Active ?? true;
    }

    private static ProblemHttpResult NotFound(string type) => ApiProblems.NotFound("plan_not_found", "No such plan.");

    private static PlanView View(Plan p) =>
        new(p.Code, p.Name, p.Description, p.PriceSats, p.FiatAmount, p.FiatCurrency, p.DurationDays, p.Chats, p.Active, p.Source, p.UpdatedAt);
}
