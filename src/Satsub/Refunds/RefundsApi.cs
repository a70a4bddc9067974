using System.ComponentModel;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Satsub.Admin;
using Satsub.Api;
using Satsub.Data;

namespace Satsub.Refunds;

public sealed record RefundRequest([property: Description("Why the sale is refunded (1-500 characters); kept with the refund and in the audit log.")] string? Reason);

public sealed record RefundView(
    string RefundId,
    string InvoiceId,
    long AmountSats,
    [property: Description("The commission taken back from the affiliate (0 when the sale had no referrer).")] long CommissionReversedSats,
    [property: Description("True when the commission had left the hold: the affiliate's available balance was reduced and may be negative; the case is flagged to the admin.")] bool ClawedBack,
    [property: Description("The subscription's expiry after the refund took back the period the sale bought.")] DateTimeOffset? SubscriptionExpiresAt);

/// <summary><c>POST /api/v1/admin/invoices/{invoice_id}/refund</c> (admin scope, audited).</summary>
public static class RefundsApi
{
    public static RouteGroupBuilder MapRefundsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/admin/invoices/{invoice_id}/refund", RefundAsync).WithTags("Admin").RequireAuthorization(ApiCaller.AdminPolicy)
            .WithSummary("Record the refund of a settled sale")
            .WithDescription("Records that the sale was refunded to the buyer (outside Satsub), takes back the period it bought and reverses the affiliate's commission by new postings: from pending while held, otherwise from available (a clawback, flagged to the admin). Refunding again answers 200 with the same refund (and `Satsub-Replayed: true`).")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
        return api;
    }

    private static async Task<Results<Ok<RefundView>, ValidationProblem, ProblemHttpResult>> RefundAsync(
        [FromRoute(Name = "invoice_id")] string invoiceId, RefundRequest body, RefundService refunds, SatsubDbContext db, AuditLog audit,
        HttpContext http, CancellationToken ct)
    {
        if (invoiceId.Length > 64 || !Guid.TryParse(invoiceId, out var id))
            return ApiProblems.NotFound("invoice_not_found", "No such invoice.");
        var errors = new FieldErrors();
        var reason = errors.Text("reason", body.Reason, 500, required: true);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());

        var result = await refunds.RefundAsync(id, reason!, ct);
        var expiresAt = result.SubscriptionExpiresAt ?? await db.Invoices.Where(i => i.Id == id)
            .Join(db.Subscriptions, i => i.SubscriptionId, s => s.Id, (_, s) => s.ExpiresAt).SingleOrDefaultAsync(ct);
        await audit.RecordAsync(http, "invoice.refund", id.ToString("D"), result.Replayed ? "replayed" : reason);
        http.Response.Headers["Satsub-Replayed"] = result.Replayed ? "true" : "false";
        return TypedResults.Ok(new RefundView(result.RefundId.ToString("D"), id.ToString("D"), result.Amount.Value,
            result.CommissionReversed.Value, result.ClawedBack, expiresAt));
    }
}
