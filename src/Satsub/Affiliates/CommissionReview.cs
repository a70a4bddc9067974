using System.ComponentModel;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Satsub.Admin;
using Satsub.Api;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Outbox;

namespace Satsub.Affiliates;

public sealed record ReviewedCommission(string CommissionId, string AffiliateId, string InvoiceId, long AmountSats,
    [property: Description("pending, available, reversed (or clawed_back if refunded meanwhile).")] string State,
    [property: Description("Why a fraud guard held it.")] string? ReviewReason);

/// <summary>
/// The admin's decision on a commission a fraud guard held for review: <b>release</b> it (to <c>available</c>, or back to
/// <c>pending</c> until its hold ends) or <b>reverse</b> it (the sale stands; the commission goes to the owner). Each is
/// a conditional update of the commission plus one posting with its own key, so deciding twice changes nothing.
/// </summary>
public sealed class CommissionReview(SatsubDbContext db, TimeProvider clock, CommissionRates rates)
{
    public async Task<Commission> ReleaseAsync(Guid id, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var c = await FindAsync(id, ct);
        if (c.State is CommissionState.Available or CommissionState.Pending) return c;
        EnsureHeld(c, "released");
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            // Still inside its hold period: back to pending, and the worker releases it when the hold ends.
            var due = c.AvailableAt <= now;
            var claimed = await db.UpdateVersionedAsync(db.Commissions.Where(x => x.Id == id && x.State == CommissionState.HeldForReview),
                s => s.SetProperty(x => x.State, due ? CommissionState.Available : CommissionState.Pending), ct);
            if (claimed > 0 && due && c.AmountSats > 0)
            {
                LedgerBook.Post(db, $"review-release:{c.Id:D}", "hold_release", now,
                    [(Accounts.AffiliatePending(c.AffiliateId), new Sats(-c.AmountSats)), (Accounts.AffiliateAvailable(c.AffiliateId), new Sats(c.AmountSats))],
                    c.InvoiceId);
                OutboxWriter.Enqueue(db, "commission.available", $"commission.available:{c.Id:D}", new
                {
                    CommissionId = c.Id.ToString("D"),
                    AffiliateId = c.AffiliateId.ToString("D"),
                    c.AmountSats,
                    InvoiceId = c.InvoiceId.ToString("D"),
                }, now);
                await db.SaveChangesAsync(ct);
            }
            if (claimed > 0) await ResolveFlagAsync(c, now, ct);
            await tx.CommitAsync(ct);
        }
        return await AfterAsync(id, [CommissionState.Available, CommissionState.Pending], "released", ct);
    }

    public async Task<Commission> ReverseAsync(Guid id, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var c = await FindAsync(id, ct);
        if (c.State == CommissionState.Reversed) return c;
        EnsureHeld(c, "reversed");
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            var claimed = await db.UpdateVersionedAsync(db.Commissions.Where(x => x.Id == id && x.State == CommissionState.HeldForReview),
                s => s.SetProperty(x => x.State, CommissionState.Reversed), ct);
            if (claimed > 0)
                await Standings.AffiliateStandings.OnUncountedAsync(db, rates.Weights, c.AffiliateId, c.BuyerId, c.SaleSats, c.CreatedAt, ct);
            if (claimed > 0 && c.AmountSats > 0)
            {
                LedgerBook.Post(db, $"review-reverse:{c.Id:D}", "commission_reverse", now,
                    [(Accounts.AffiliatePending(c.AffiliateId), new Sats(-c.AmountSats)), (Accounts.OwnerRevenue, new Sats(c.AmountSats))],
                    c.InvoiceId);
                OutboxWriter.Enqueue(db, "commission.reversed", $"commission.reversed:review:{c.InvoiceId:D}", new
                {
                    AffiliateId = c.AffiliateId.ToString("D"),
                    c.AmountSats,
                    InvoiceId = c.InvoiceId.ToString("D"),
                    Clawback = false,
                    Reason = "review",
                }, now);
                await db.SaveChangesAsync(ct);
            }
            if (claimed > 0) await ResolveFlagAsync(c, now, ct);
            await tx.CommitAsync(ct);
        }
        return await AfterAsync(id, [CommissionState.Reversed], "reversed", ct);
    }

    private async Task<Commission> FindAsync(Guid id, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        return await db.Commissions.AsNoTracking().SingleOrDefaultAsync(c => c.Id == id, ct)
               ?? throw new DomainException("commission_not_found", "No such commission.", 404);
    }

    private static void EnsureHeld(Commission c, string verb)
    {
        if (c.State != CommissionState.HeldForReview)
            throw new DomainException("commission_not_held", $"Only a commission held for review can be {verb}; this one is {EnumNames.ToSnake(c.State)}.", 409);
    }

    // A concurrent decision (or refund) may have won: report what the commission is now.
    private async Task<Commission> AfterAsync(Guid id, CommissionState[] expected, string verb, CancellationToken ct)
    {
        var c = await FindAsync(id, ct);
        if (!expected.Contains(c.State))
            throw new DomainException("commission_not_held", $"The commission could not be {verb}: it is {EnumNames.ToSnake(c.State)}.", 409);
        return c;
    }

    private Task ResolveFlagAsync(Commission c, DateTimeOffset now, CancellationToken ct)
    {
        var key = $"commission-held:{c.InvoiceId:D}";
        return db.AdminFlags.Where(f => f.DedupeKey == key && f.ResolvedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(f => f.ResolvedAt, now), ct);
    }
}

/// <summary><c>POST /api/v1/admin/commissions/{id}/release|reverse</c> (admin, audited).</summary>
public static class CommissionReviewApi
{
    public static RouteGroupBuilder MapCommissionReviewApi(this RouteGroupBuilder api)
    {
        var admin = api.MapGroup("/admin/commissions").WithTags("Admin").RequireAuthorization(ApiCaller.AdminPolicy);
        admin.MapPost("/{commission_id}/release", ReleaseAsync)
            .WithSummary("Release a commission held for review")
            .WithDescription("To `available` (or to `pending` if its hold period has not ended). 409 `commission_not_held` if it is not held.")
            .ProducesProblem(404).ProducesProblem(409);
        admin.MapPost("/{commission_id}/reverse", ReverseAsync)
            .WithSummary("Reverse a commission held for review: the sale stands and the commission goes to the owner")
            .ProducesProblem(404).ProducesProblem(409);
        return api;
    }

    private static Task<Results<Ok<ReviewedCommission>, ProblemHttpResult>> ReleaseAsync(
        [FromRoute(Name = "commission_id")] string commissionId, CommissionReview review, AuditLog audit, HttpContext http, CancellationToken ct) =>
        DecideAsync(commissionId, review.ReleaseAsync, "commission.release", audit, http, ct);

    private static Task<Results<Ok<ReviewedCommission>, ProblemHttpResult>> ReverseAsync(
        [FromRoute(Name = "commission_id")] string commissionId, CommissionReview review, AuditLog audit, HttpContext http, CancellationToken ct) =>
        DecideAsync(commissionId, review.ReverseAsync, "commission.reverse", audit, http, ct);

    private static async Task<Results<Ok<ReviewedCommission>, ProblemHttpResult>> DecideAsync(string commissionId,
        Func<Guid, CancellationToken, Task<Commission>> decide, string action, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (commissionId.Length > 64 || !Guid.TryParse(commissionId, out var id))
            return ApiProblems.NotFound("commission_not_found", "No such commission.");
        var c = await decide(id, ct);
        await audit.RecordAsync(http, action, c.Id.ToString("D"), c.ReviewReason);
        return TypedResults.Ok(new ReviewedCommission(c.Id.ToString("D"), c.AffiliateId.ToString("D"), c.InvoiceId.ToString("D"), c.AmountSats,
            EnumNames.ToSnake(c.State), c.ReviewReason));
    }
}
