using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates;
using Satsub.Affiliates.Standings;
using Satsub.Data;

namespace Satsub.Users;

/// <summary>
/// <c>GET /users/{id}</c>, the API's busiest read, in one query: the user (not erased), their standing (balances,
/// counts, place: <see cref="AffiliateStandings.ProfileColumns"/>) and their active subscriptions, one row per
/// subscription (or one row without), where it took three round trips (docs/benchmarks.md).
/// </summary>
internal static class ProfileRead
{
    public sealed record Result(User User, ProfileStanding Standing, IReadOnlyList<ActiveSubscription> Subscriptions);

    /// <summary>Null when there is no such user. The user is a read-only copy.</summary>
    public static async Task<Result?> ByIdAsync(SatsubDbContext db, Guid userId, DateTimeOffset now, CancellationToken ct)
    {
        var sql = "SELECT u.platform, u.external_id, u.username, u.referral_code, u.referrer_id, u.created_at, u.hidden_from_leaderboard, u.display_name, " +
                  "sub.id AS subscription_id, sub.plan_code AS subscription_plan, sub.status AS subscription_status, " +
                  "sub.starts_at AS subscription_starts_at, sub.expires_at AS subscription_expires_at, " +
                  $"{AffiliateStandings.ProfileColumns} FROM users u LEFT JOIN affiliate_standings s ON s.affiliate_id = u.id " +
                  "LEFT JOIN subscriptions sub ON sub.user_id = u.id AND sub.status = 'active' AND sub.expires_at > {4} " +
                  "WHERE u.id = {0} AND u.erased_at IS NULL ORDER BY sub.expires_at, sub.id";
        object[] parameters = [.. AffiliateStandings.ProfileParameters(userId), db.Time(now)];
        // Raw SQL's rows get no value converters: SQLite's times arrive as the numbers it stores.
        List<Row> rows = db.IsPostgres
            ? [.. await db.Database.SqlQueryRaw<PostgresRow>(sql, parameters).ToListAsync(ct)]
            : [.. await db.Database.SqlQueryRaw<SqliteRow>(sql, parameters).ToListAsync(ct)];
        if (rows.Count == 0) return null;
        var first = rows[0];
        var user = new User(userId, first.Platform, first.ExternalId, first.Username, first.ReferralCode, first.ReferrerId, first.Created)
        {
            HiddenFromLeaderboard = first.HiddenFromLeaderboard,
            DisplayName = first.DisplayName,
        };
        var subscriptions = rows.Where(r => r.SubscriptionId is not null)
            .Select(r => new ActiveSubscription(r.SubscriptionId!.Value.ToString("D"), r.SubscriptionPlan!, r.SubscriptionStatus!, r.SubscriptionStarts, r.SubscriptionExpires))
            .ToList();
        return new Result(user, AffiliateStandings.Standing(first), subscriptions);
    }

    private abstract class Row : AffiliateStandings.ProfileRow
    {
        public string Platform { get; init; } = "";
        public string? ExternalId { get; init; }
        public string? Username { get; init; }
        public string ReferralCode { get; init; } = "";
        public Guid? ReferrerId { get; init; }
        public bool HiddenFromLeaderboard { get; init; }
        public string? DisplayName { get; init; }
        public Guid? SubscriptionId { get; init; }
        public string? SubscriptionPlan { get; init; }
        public string? SubscriptionStatus { get; init; }
        public abstract DateTimeOffset Created { get; }
        public abstract DateTimeOffset? SubscriptionStarts { get; }
        public abstract DateTimeOffset? SubscriptionExpires { get; }
    }

    private sealed class PostgresRow : Row
    {
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? SubscriptionStartsAt { get; init; }
        public DateTimeOffset? SubscriptionExpiresAt { get; init; }
        public override DateTimeOffset Created => CreatedAt;
        public override DateTimeOffset? SubscriptionStarts => SubscriptionStartsAt;
        public override DateTimeOffset? SubscriptionExpires => SubscriptionExpiresAt;
    }

    private sealed class SqliteRow : Row
    {
        public long CreatedAt { get; init; }
        public long? SubscriptionStartsAt { get; init; }
        public long? SubscriptionExpiresAt { get; init; }
        public override DateTimeOffset Created => SqliteSatsubDbContext.FromStoredTime(CreatedAt);
        public override DateTimeOffset? SubscriptionStarts => SubscriptionStartsAt is { } v ? SqliteSatsubDbContext.FromStoredTime(v) : null;
        public override DateTimeOffset? SubscriptionExpires => SubscriptionExpiresAt is { } v ? SqliteSatsubDbContext.FromStoredTime(v) : null;
    }
}
