using System.ComponentModel;
using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Satsub.Admin;
using Satsub.Affiliates;
using Satsub.Affiliates.Rating;
using Satsub.Affiliates.Standings;
using Satsub.Api;
using Satsub.Api.Idempotency;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Referrals;
using Satsub.Subscriptions;

namespace Satsub.Users;

public sealed record CreateUserRequest(
    [property: Description("Display name; required and unique per platform on platforms without external ids (website).")] string? Username,
    [property: Description("The referrer: a user id or a referral code. Unknown is 422.")] string? ReferralId,
    [property: Description("telegram, discord, website… A platform key may omit it: its own platform is used.")] string? Platform,
    [property: Description("The user's id on the platform; required on telegram and discord.")] string? ExternalId);

public sealed record UserCreated(string UserId, string? Username, string Platform, string? ExternalId, string? ReferrerId, string ReferralCode, string ReferralLink);

public sealed record BalanceView(long PendingSats, long AvailableSats, long PaidOutSats);

public sealed record ReferralCounts(
    [property: Description("Users this user referred directly.")] int Count,
    [property: Description("Referred users with at least one settled invoice.")] int Paying);

public sealed record ActiveSubscription(string SubscriptionId, string Type, string Status, DateTimeOffset? StartsAt, DateTimeOffset? ExpiresAt);

public sealed record UserProfile(
    string UserId,
    string? Username,
    string Platform,
    string? ExternalId,
    string? ReferrerId,
    string ReferralCode,
    string ReferralLink,
    DateTimeOffset CreatedAt,
    BalanceView Balance,
    [property: Description("Commission earned in all: pending + available + paid out.")] long EarningsTotalSats,
    ReferralCounts Referrals,
    IReadOnlyList<ActiveSubscription> Subscriptions,
    [property: Description("The affiliate tier reached and the next one; null when no tiers are configured.")] TierView? Tier,
    [property: Description("Place on the all-time leaderboard; null without paying referrals or when hidden.")] int? Rank,
    [property: Description("The name shown on the leaderboard; null: a pseudonym is shown.")] string? DisplayName,
    bool HiddenFromLeaderboard);

public sealed record TierView(
    [property: Description("The tier reached; null below the first tier.")] string? Name,
    [property: Description("The bonus on top of the base rate, in basis points.")] int BonusBps,
    [property: Description("The next tier and what is missing to reach it; null at the top.")] NextTierView? Next);

public sealed record NextTierView(
    string Name,
    [property: Description("Paying referred customers still needed (tiers by customers).")] int? RemainingPayingCustomers,
    [property: Description("Referred sales still needed, in sats (tiers by sales).")] long? RemainingSalesSats);

public sealed record UpdateUserRequest(
    [property: Description("The name shown on the leaderboard (1-32 characters); an empty string removes it and a pseudonym is shown.")] string? DisplayName,
    [property: Description("True leaves the user out of the leaderboard.")] bool? HiddenFromLeaderboard);

public sealed record ReferralItem(string UserId, string? Username, string Platform, DateTimeOffset CreatedAt, bool Paying);

/// <summary><c>/api/v1/users</c>: registration with a referrer, profiles with balances, referrals, erasure.</summary>
public static class UsersApi
{
    public static RouteGroupBuilder MapUsersApi(this RouteGroupBuilder api)
    {
        var users = api.MapGroup("/users").WithTags("Users").RequireAuthorization(ApiCaller.KeyPolicy);

        users.MapPost("/", CreateAsync).Idempotent()
            .WithSummary("Register a user")
            .WithDescription("Registers a user with an optional referrer (set once, never changed). On telegram and discord the pair (platform, external_id) identifies the user and registering again returns the same user with 200; on other platforms the username is unique (409).")
            .ProducesProblem(400).ProducesProblem(403).ProducesProblem(409).ProducesProblem(422);
        users.MapGet("/", FindAsync)
            .WithSummary("Find a user by platform identity")
            .WithDescription("`platform` with `external_id` or `username`: the matching user, or 404.")
            .ProducesProblem(400).ProducesProblem(404);
        users.MapGet("/{user_id}", GetAsync)
            .WithSummary("A user's profile, balances, referrals and active subscriptions")
            .ProducesProblem(404);
        users.MapGet("/{user_id}/referrals", ReferralsAsync)
            .WithSummary("The users this user referred directly, paged")
            .ProducesProblem(400).ProducesProblem(404);
        users.MapPatch("/{user_id}", UpdateAsync)
            .WithSummary("Set the user's leaderboard display name or hide them")
            .WithDescription("`display_name` (absent: unchanged; empty: removed) and `hidden_from_leaderboard` (absent: unchanged). Answers the profile.")
            .ProducesProblem(400).ProducesProblem(404);
        users.MapDelete("/{user_id}", EraseAsync)
            .WithSummary("Erase a user's personal data")
            .WithDescription("Forgets username, external id and payout destination; the id stays as a pseudonym so the ledger still balances. Admin, or a key of the user's platform.")
            .ProducesProblem(404);
        return api;
    }

    private static async Task<Results<Created<UserCreated>, Ok<UserCreated>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateUserRequest body, ClaimsPrincipal caller, UserRegistration registration, ReferralLinks links, HttpRequest request, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var platform = errors.Text("platform", body.Platform, 32);
        var username = errors.Text("username", body.Username, 64);
        var externalId = errors.Text("external_id", body.ExternalId, 128);
        var referral = errors.Text("referral_id", body.ReferralId, 64);
        if (platform is null)
        {
            var own = caller.FindAll(ApiCaller.ScopeClaim).Select(c => c.Value).Where(s => s != ApiKeys.ApiKeyService.AdminScope).ToList();
            if (!caller.IsAdmin() && own.Count == 1) platform = own[0];
            else errors.Add("platform", "is required.");
        }
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        platform = platform!.ToLowerInvariant();
        if (!caller.CanAccess(platform))
            return ApiProblems.Problem(403, "forbidden", $"This API key may not register users on '{platform}'.");

        var (user, created) = await registration.RegisterAsync(new RegistrationRequest(platform, externalId, username, referral), ct);
        var view = new UserCreated(Id(user.Id), user.Username, user.Platform, user.ExternalId, user.ReferrerId is { } r ? Id(r) : null,
            user.ReferralCode, links.For(user.ReferralCode, request));
        return created ? TypedResults.Created($"/api/v1/users/{view.UserId}", view) : TypedResults.Ok(view);
    }

    private static async Task<Results<Ok<UserProfile>, ValidationProblem, ProblemHttpResult>> FindAsync(
        [FromQuery] string? platform, [FromQuery(Name = "external_id")] string? externalId, [FromQuery] string? username,
        ClaimsPrincipal caller, SatsubDbContext db, ReferralLinks links, TimeProvider clock, AffiliateProfile affiliate, HttpRequest request, CancellationToken ct)
    {
        var errors = new FieldErrors();
        platform = errors.Text("platform", platform, 32, required: true)?.ToLowerInvariant();
        externalId = errors.Text("external_id", externalId, 128);
        username = errors.Text("username", username, 64);
        if (externalId is null && username is null) errors.Add("external_id", "give external_id or username.");
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        if (!caller.CanAccess(platform!)) return UserNotFound();

        var query = db.Users.AsNoTracking().Where(u => u.Platform == platform && u.ErasedAt == null);
        query = externalId is not null ? query.Where(u => u.ExternalId == externalId) : query.Where(u => u.Username == username);
        var user = await query.OrderBy(u => u.CreatedAt).FirstOrDefaultAsync(ct);
        return user is null ? UserNotFound() : TypedResults.Ok(await ProfileAsync(db, user, links, clock, affiliate, request, ct));
    }

    private static async Task<Results<Ok<UserProfile>, ProblemHttpResult>> GetAsync(
        [FromRoute(Name = "user_id")] string userId, ClaimsPrincipal caller, SatsubDbContext db, ReferralLinks links, TimeProvider clock,
        AffiliateProfile affiliate, HttpRequest request, CancellationToken ct)
    {
        if (userId.Length > 64 || !Guid.TryParse(userId, out var id)) return UserNotFound();
        var read = await ProfileRead.ByIdAsync(db, id, clock.GetUtcNow(), ct);
        if (read is null || !caller.CanAccess(read.User.Platform)) return UserNotFound();
        return TypedResults.Ok(Profile(read.User, read.Standing, read.Subscriptions, links, affiliate, request));
    }

    private static async Task<Results<Ok<Page<ReferralItem>>, ValidationProblem, ProblemHttpResult>> ReferralsAsync(
        [FromRoute(Name = "user_id")] string userId, [FromQuery] string? cursor, [FromQuery] string? limit,
        ClaimsPrincipal caller, SatsubDbContext db, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var (offset, take) = Paging.Parse(errors, cursor, limit);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        var user = await FindVisibleAsync(db, caller, userId, ct);
        if (user is null) return UserNotFound();

        var rows = await db.Users.AsNoTracking()
            .Where(u => u.ReferrerId == user.Id)
            .OrderBy(u => u.CreatedAt).ThenBy(u => u.Id)
            .Skip((int)offset).Take(take + 1)
            .Select(u => new
            {
                u.Id,
                u.Username,
                u.Platform,
                u.CreatedAt,
                Paying = db.Invoices.Any(i => i.UserId == u.Id && i.Status == InvoiceStatus.Settled),
            })
            .ToListAsync(ct);
        var items = rows.Take(take).Select(r => new ReferralItem(Id(r.Id), r.Username, r.Platform, r.CreatedAt, r.Paying)).ToList();
        return TypedResults.Ok(new Page<ReferralItem>(items, rows.Count > take ? Paging.Cursor(offset + take) : null));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> EraseAsync(
        [FromRoute(Name = "user_id")] string userId, ClaimsPrincipal caller, SatsubDbContext db, AuditLog audit, TimeProvider clock,
        HttpContext http, CancellationToken ct)
    {
        if (!Guid.TryParse(userId, out var id)) return UserNotFound();
        var user = await db.Users.SingleOrDefaultAsync(u => u.Id == id, ct);
        if (user is null || !caller.CanAccess(user.Platform)) return UserNotFound();
        if (user.ErasedAt is null)
        {
            user.Erase(clock.GetUtcNow());
            await SaveAsync(db, user, visibilityChanged: true, ct);
            await audit.RecordAsync(http, "user.erase", Id(user.Id));
        }
        return TypedResults.NoContent();
    }

    /// <summary>A live user the caller may see; null for unknown ids, erased users and other platforms' users alike.</summary>
    public static async Task<User?> FindVisibleAsync(SatsubDbContext db, ClaimsPrincipal caller, string? userId, CancellationToken ct)
    {
        if (userId is null || userId.Length > 64 || !Guid.TryParse(userId, out var id)) return null;
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == id && u.ErasedAt == null, ct);
        return user is not null && caller.CanAccess(user.Platform) ? user : null;
    }

    /// <summary>
    /// Saves changes to a tracked user; when they were hidden, shown again or erased, their affiliate standing follows in
    /// the same transaction.
    /// </summary>
    public static async Task SaveAsync(SatsubDbContext db, User user, bool visibilityChanged, CancellationToken ct)
    {
        await using var own = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        await db.SaveChangesAsync(ct);
        if (visibilityChanged) await AffiliateStandings.OnVisibilityChangedAsync(db, user.Id, ct);
        if (own is not null) await own.CommitAsync(ct);
    }

    public static ProblemHttpResult UserNotFound() => ApiProblems.NotFound("user_not_found", "No such user.");

    private static async Task<Results<Ok<UserProfile>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        [FromRoute(Name = "user_id")] string userId, UpdateUserRequest body, ClaimsPrincipal caller, SatsubDbContext db, ReferralLinks links,
        TimeProvider clock, AffiliateProfile affiliate, HttpRequest request, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var displayName = errors.Text("display_name", body.DisplayName, User.DisplayNameMaxLength);
        if (displayName is not null && Pseudonyms.LooksLikePseudonym(displayName))
            errors.Add("display_name", "must not look like a pseudonym (\"Affiliate 1A2B3C\").");
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        var visible = await FindVisibleAsync(db, caller, userId, ct);
        if (visible is null) return UserNotFound();

        var user = await db.Users.SingleAsync(u => u.Id == visible.Id, ct);
        if (body.DisplayName is not null) user.DisplayName = displayName;
        var visibilityChanged = body.HiddenFromLeaderboard is { } hidden && hidden != user.HiddenFromLeaderboard;
        if (body.HiddenFromLeaderboard is { } hide) user.HiddenFromLeaderboard = hide;
        await SaveAsync(db, user, visibilityChanged, ct);
        return TypedResults.Ok(await ProfileAsync(db, user, links, clock, affiliate, request, ct));
    }

    private static async Task<UserProfile> ProfileAsync(SatsubDbContext db, User user, ReferralLinks links, TimeProvider clock, AffiliateProfile affiliate,
        HttpRequest request, CancellationToken ct)
    {
        // Balances, referral counts, tier inputs and place in one query (counts and place precomputed, never scanned).
        var standing = await AffiliateStandings.ProfileAsync(db, user.Id, ct);
        var now = clock.GetUtcNow();
        var active = await db.Subscriptions.AsNoTracking()
            .Where(s => s.UserId == user.Id && s.Status == SubscriptionStatus.Active && s.ExpiresAt > now)
            .OrderBy(s => s.ExpiresAt).ThenBy(s => s.Id)
            .Select(s => new { s.Id, s.PlanCode, s.Status, s.StartsAt, s.ExpiresAt })
            .ToListAsync(ct);
        return Profile(user, standing,
            active.Select(s => new ActiveSubscription(Id(s.Id), s.PlanCode, EnumNames.ToSnake(s.Status), s.StartsAt, s.ExpiresAt)).ToList(),
            links, affiliate, request);
    }

    /// <summary>The profile of a user from what was read (by <see cref="ProfileAsync"/>, or in one query by <see cref="ProfileRead"/>).</summary>
    private static UserProfile Profile(User user, ProfileStanding standing, IReadOnlyList<ActiveSubscription> active, ReferralLinks links,
        AffiliateProfile affiliate, HttpRequest request)
    {
        var balance = standing.Balance;
        return new UserProfile(
            Id(user.Id), user.Username, user.Platform, user.ExternalId, user.ReferrerId is { } r ? Id(r) : null,
            user.ReferralCode, links.For(user.ReferralCode, request), user.CreatedAt,
            new BalanceView(balance.Pending.Value, balance.Available.Value, balance.Paid.Value),
            balance.Earned.Value,
            new ReferralCounts(standing.ReferredUsers, standing.PayingReferrals),
            active,
            affiliate.Tier(new AffiliateStanding(standing.PayingCustomers, standing.ReferredSalesSats)),
            user.HiddenFromLeaderboard ? null : standing.Rank,
            user.DisplayName,
            user.HiddenFromLeaderboard);
    }

    private static string Id(Guid id) => id.ToString("D", CultureInfo.InvariantCulture);
}
