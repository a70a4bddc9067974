using System.ComponentModel;
using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Satsub.Api;
using Satsub.Data;
using Satsub.Users;

namespace Satsub.Affiliates.Rating;

public sealed record LeaderboardItem(
    int Rank,
    [property: Description("The display name the affiliate chose, or a stable pseudonym such as \"Affiliate 7F3A2C\"; never a username.")] string DisplayName,
    long Score,
    [property: Description("Distinct referred customers who paid in the period.")] int PayingCustomers,
    long ReferredSalesSats);

public sealed record LeaderboardView(
    [property: Description("`month` (the current calendar month, UTC) or `all`.")] string Period,
    IReadOnlyList<LeaderboardItem> Items,
    [property: Description("The place of `user_id`, when given: null when they have no sales in the period or are hidden.")] LeaderboardItem? Me);

/// <summary><c>GET /api/v1/leaderboard</c>: the affiliates' rating, by display name only.</summary>
public static class LeaderboardApi
{
    public const int DefaultLimit = 10;

    public static RouteGroupBuilder MapLeaderboardApi(this RouteGroupBuilder api)
    {
        api.MapGet("/leaderboard", GetAsync).WithTags("Affiliates").RequireAuthorization(ApiCaller.KeyPolicy)
            .WithSummary("The affiliates' leaderboard")
            .WithDescription("`period` = `all` (default) or `month`; `limit` 1-100 (default 10); `user_id` adds that user's own place as `me` (a platform key may ask only about its platform's users). Scores count paying referred customers, referred sales and renewals — never sign-ups. Hidden users are left out.")
            .ProducesProblem(400).ProducesProblem(404);
        return api;
    }

    private static async Task<Results<Ok<LeaderboardView>, ValidationProblem, ProblemHttpResult>> GetAsync(
        [FromQuery] string? period, [FromQuery] string? limit, [FromQuery(Name = "user_id")] string? userId,
        ClaimsPrincipal caller, SatsubDbContext db, Leaderboard leaderboard, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var which = period switch
        {
            null or "" or "all" => LeaderboardPeriod.All,
            "month" => LeaderboardPeriod.Month,
            _ => (LeaderboardPeriod?)null,
        };
        if (which is null) errors.Add("period", "must be 'month' or 'all'.");
        var take = DefaultLimit;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > Paging.MaxLimit))
            errors.Add("limit", $"must be a whole number from 1 to {Paging.MaxLimit}.");
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());

        LeaderboardItem? me = null;
        if (!string.IsNullOrEmpty(userId))
        {
            var user = await UsersApi.FindVisibleAsync(db, caller, userId, ct);
            if (user is null) return UsersApi.UserNotFound();
            if (await leaderboard.OfAsync(user.Id, which!.Value, ct) is { } own) me = Item(own);
        }
        var top = await leaderboard.TopAsync(which!.Value, take, ct);
        return TypedResults.Ok(new LeaderboardView(EnumNames.ToSnake(which.Value), top.Select(Item).ToList(), me));
    }

    private static LeaderboardItem Item(Standing s) => new(s.Rank, s.DisplayName, s.Score, s.PayingCustomers, s.ReferredSalesSats);
}
