using System.ComponentModel;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates.Rating;
using Satsub.Api;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Users;

namespace Satsub.Affiliates;

public sealed record CommissionItem(
    string CommissionId,
    DateTimeOffset SaleAt,
    string Plan,
    long SaleSats,
    int RateBps,
    [property: Description("The tier the rate came from; null at the base rate.")] string? Tier,
    long AmountSats,
    [property: Description("pending (held), available, paid (covered by payouts sent, oldest available first), clawed_back (refunded) or held_for_review.")] string State,
    [property: Description("When the hold ends (or ended).")] DateTimeOffset AvailableAt,
    [property: Description("The buyer's public pseudonym, such as \"Customer 1A2B3C\": stable per buyer, never a name.")] string Buyer);

/// <summary><c>GET /api/v1/users/{user_id}/commissions</c>: what an affiliate earned, sale by sale.</summary>
public static class CommissionsApi
{
    public static RouteGroupBuilder MapCommissionsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/users/{user_id}/commissions", ListAsync).WithTags("Users").RequireAuthorization(ApiCaller.KeyPolicy)
            .WithSummary("The commissions a user earned as an affiliate, oldest first, paged")
            .WithDescription("Each commission with its sale, rate, tier, amount, state and the buyer's pseudonym. The order is the sales' order, so a cursor stays valid while new sales arrive.")
            .ProducesProblem(400).ProducesProblem(404);
        return api;
    }

    private static async Task<Results<Ok<Page<CommissionItem>>, ValidationProblem, ProblemHttpResult>> ListAsync(
        [FromRoute(Name = "user_id")] string userId, [FromQuery] string? cursor, [FromQuery] string? limit,
        ClaimsPrincipal caller, SatsubDbContext db, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var (offset, take) = Paging.Parse(errors, cursor, limit);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        var user = await UsersApi.FindVisibleAsync(db, caller, userId, ct);
        if (user is null) return UsersApi.UserNotFound();

        var rows = await db.Commissions.AsNoTracking()
            .Where(c => c.AffiliateId == user.Id)
            .OrderBy(c => c.CreatedAt).ThenBy(c => c.Id)
            .Skip((int)offset).Take(take + 1)
            .ToListAsync(ct);
        var paid = rows.Any(r => r.State == CommissionState.Available) ? await PaidAsync(db, user.Id, ct) : [];
        var items = rows.Take(take).Select(c => new CommissionItem(
            c.Id.ToString("D"), c.CreatedAt, c.PlanCode, c.SaleSats, c.RateBps, c.TierName, c.AmountSats,
            c.State == CommissionState.Available && paid.Contains(c.Id) ? "paid" : EnumNames.ToSnake(c.State),
            c.AvailableAt, Pseudonyms.Buyer(c.BuyerId))).ToList();
        return TypedResults.Ok(new Page<CommissionItem>(items, rows.Count > take ? Paging.Cursor(offset + take) : null));
    }

    /// <summary>
    /// The ledger pays balances, not commissions: a commission counts as paid once the affiliate's payouts sent
    /// cover it, taking available commissions oldest first.
    /// </summary>
    private static async Task<HashSet<Guid>> PaidAsync(SatsubDbContext db, Guid affiliateId, CancellationToken ct)
    {
        var paidTotal = (await LedgerBook.AffiliateBalanceAsync(db, affiliateId, ct)).Paid.Value;
        var result = new HashSet<Guid>();
        if (paidTotal <= 0) return result;
        var available = await db.Commissions.AsNoTracking()
            .Where(c => c.AffiliateId == affiliateId && c.State == CommissionState.Available)
            .OrderBy(c => c.AvailableAt).ThenBy(c => c.Id)
            .Select(c => new { c.Id, c.AmountSats })
            .ToListAsync(ct);
        var covered = 0L;
        foreach (var c in available)
        {
            covered += c.AmountSats;
            if (covered > paidTotal) break;
            result.Add(c.Id);
        }
        return result;
    }
}
