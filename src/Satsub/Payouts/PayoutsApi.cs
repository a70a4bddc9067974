using System.ComponentModel;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Satsub.Admin;
using Satsub.Api;
using Satsub.Data;
using Satsub.Users;

namespace Satsub.Payouts;

public sealed record PayoutRequestBody(
    [property: Description("Sats to withdraw; everything available when left out.")] long? AmountSats,
    [property: Description("A Lightning Address, a BOLT11 invoice for exactly the amount, or an on-chain address; the saved destination when left out.")] string? Destination);

public sealed record RejectBody([property: Description("Why, for the affiliate and the audit log.")] string? Reason);

public sealed record MarkSentBody(
    [property: Description("The transaction id or payment hash (64 hex digits).")] string? Reference,
    [property: Description("The network fee paid, in sats.")] long? FeeSats);

public sealed record PayoutView(
    string PayoutId, string UserId, string Status, long AmountSats, long FeeSats, long? SentSats, string Destination, string DestinationType,
    string Provider, string? PaymentHash, string? Txid, string? FailureReason, DateTimeOffset RequestedAt, DateTimeOffset UpdatedAt)
{
    public static PayoutView Of(Payout p) => new(p.Id.ToString("D"), p.UserId.ToString("D"), EnumNames.ToSnake(p.Status), p.AmountSats, p.FeeSats,
        p.SentSats, p.Destination, p.DestinationType, p.Provider, p.PaymentHash, p.Txid, p.FailureReason, p.RequestedAt, p.UpdatedAt);
}

/// <summary>
/// Withdrawals: <c>POST /users/{id}/payouts</c>, <c>GET /payouts/{id}</c>, and the admin's approve, reject, mark-sent
/// and CSV export (the manual provider's flow). Every admin action is audited.
/// </summary>
public static class PayoutsApi
{
    public static RouteGroupBuilder MapPayoutsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/users/{user_id}/payouts", RequestAsync).WithTags("Payouts").RequireAuthorization(ApiCaller.KeyPolicy)
            .WithSummary("Withdraw available commission")
            .WithDescription("Reserves the amount at once (it leaves `available` for `payouts_in_flight`); small payouts are approved automatically, larger ones wait for the admin. 409 `insufficient_balance` or `daily_cap_reached`, 422 `below_minimum` or `invalid_destination`.")
            .ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        api.MapGet("/payouts/{payout_id}", GetAsync).WithTags("Payouts").RequireAuthorization(ApiCaller.KeyPolicy)
            .WithSummary("One payout with its status, payment hash or txid, and fee").ProducesProblem(404);

        var admin = api.MapGroup("/admin/payouts").WithTags("Admin").RequireAuthorization(ApiCaller.AdminPolicy);
        admin.MapPost("/{payout_id}/approve", ApproveAsync).WithSummary("Approve a requested payout").ProducesProblem(404).ProducesProblem(409);
        admin.MapPost("/{payout_id}/reject", RejectAsync).WithSummary("Reject a payout; the amount returns to the affiliate's available balance").ProducesProblem(404).ProducesProblem(409);
        admin.MapPost("/{payout_id}/mark-sent", MarkSentAsync).WithSummary("Record a payout paid by hand (manual provider)").ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        admin.MapGet("/export.csv", ExportAsync).WithSummary("Approved payouts waiting to be paid by hand, as CSV");
        return api;
    }

    private static async Task<Results<Created<PayoutView>, ProblemHttpResult>> RequestAsync(
        [FromRoute(Name = "user_id")] string userId, PayoutRequestBody? body, ClaimsPrincipal caller, SatsubDbContext db, PayoutService payouts, CancellationToken ct)
    {
        var user = await UsersApi.FindVisibleAsync(db, caller, userId, ct);
        if (user is null) return UsersApi.UserNotFound();
        var payout = await payouts.RequestAsync(user.Id, body?.AmountSats, body?.Destination, ct);
        return TypedResults.Created($"/api/v1/payouts/{payout.Id:D}", PayoutView.Of(payout));
    }

    private static async Task<Results<Ok<PayoutView>, ProblemHttpResult>> GetAsync(
        [FromRoute(Name = "payout_id")] string payoutId, ClaimsPrincipal caller, SatsubDbContext db, PayoutService payouts, CancellationToken ct)
    {
        if (!Guid.TryParse(payoutId, out var id)) return NotFound();
        var payout = await payouts.GetAsync(id, ct);
        // Another platform's payout looks like no payout at all.
        return await UsersApi.FindVisibleAsync(db, caller, payout.UserId.ToString("D"), ct) is null && !caller.IsAdmin()
            ? NotFound()
            : TypedResults.Ok(PayoutView.Of(payout));
    }

    private static async Task<Results<Ok<PayoutView>, ProblemHttpResult>> ApproveAsync(
        [FromRoute(Name = "payout_id")] string payoutId, PayoutService payouts, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (!Guid.TryParse(payoutId, out var id)) return NotFound();
        var payout = await payouts.ApproveAsync(id, ct);
        await audit.RecordAsync(http, "payout.approve", payout.Id.ToString("D"));
        return TypedResults.Ok(PayoutView.Of(payout));
    }

    private static async Task<Results<Ok<PayoutView>, ProblemHttpResult>> RejectAsync(
        [FromRoute(Name = "payout_id")] string payoutId, RejectBody? body, PayoutService payouts, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (!Guid.TryParse(payoutId, out var id)) return NotFound();
        var reason = string.IsNullOrWhiteSpace(body?.Reason) ? "rejected by the admin" : body.Reason.Trim();
        if (reason.Length > 500) return ApiProblems.Problem(400, "validation_failed", "reason is at most 500 characters.");
        var payout = await payouts.RejectAsync(id, reason, ct);
        await audit.RecordAsync(http, "payout.reject", payout.Id.ToString("D"), reason);
        return TypedResults.Ok(PayoutView.Of(payout));
    }

    private static async Task<Results<Ok<PayoutView>, ProblemHttpResult>> MarkSentAsync(
        [FromRoute(Name = "payout_id")] string payoutId, MarkSentBody? body, PayoutService payouts, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (!Guid.TryParse(payoutId, out var id)) return NotFound();
        if (string.IsNullOrWhiteSpace(body?.Reference)) return ApiProblems.Problem(400, "validation_failed", "reference is required.");
        var payout = await payouts.MarkSentAsync(id, body.Reference.Trim(), body.FeeSats ?? 0, ct);
        await audit.RecordAsync(http, "payout.mark_sent", payout.Id.ToString("D"), body.Reference.Trim());
        return TypedResults.Ok(PayoutView.Of(payout));
    }

    private static async Task ExportAsync(HttpContext http, PayoutExport export, AuditLog audit, CancellationToken ct)
    {
        http.Response.ContentType = "text/csv; charset=utf-8";
        http.Response.Headers.ContentDisposition = "attachment; filename=\"payouts.csv\"";
        await using var writer = new StreamWriter(http.Response.Body, leaveOpen: true);
        await export.WriteCsvAsync(writer, ct);
        await writer.FlushAsync(ct);
        await audit.RecordAsync(http, "payout.export", null);
    }

    private static ProblemHttpResult NotFound() => ApiProblems.NotFound("payout_not_found", "No such payout.");
}
