using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates;
using Satsub.Data;
using Satsub.Operations;

namespace Satsub.Referrals;

/// <summary>
/// Fraud guard on sign-ups: more than <c>Affiliate:MaxRegistrationsPerMinutePerCode</c> registrations with one referrer
/// in the last minute looks like a script. The new user is still registered — a buyer is never dropped — but without
/// the referrer, and the code is flagged. The count is a sliding minute over committed rows, so concurrent sign-ups
/// may let a few more through: it limits a flood, it is not an exact quota.
/// </summary>
public static class ReferralVelocity
{
    public static async Task<bool> IsOverLimitAsync(SatsubDbContext db, AffiliateOptions options, Guid referrerId, DateTimeOffset now, CancellationToken ct)
    {
        var since = now.AddMinutes(-1);
        var recent = await db.Users.CountAsync(u => u.ReferrerId == referrerId && u.CreatedAt > since, ct);
        return recent >= options.MaxRegistrationsPerMinutePerCode;
    }

    /// <summary>One flag per referrer and minute (the first uncredited user is named; the others are alike).</summary>
    public static Task FlagAsync(SatsubDbContext db, AffiliateOptions options, Guid referrerId, string code, Guid uncreditedUser, DateTimeOffset now, CancellationToken ct) =>
        AdminFlags.RaiseAsync(db, FraudGuards.ReferralVelocityFlag,
            $"referral-velocity:{referrerId:D}:{now.UtcDateTime.ToString("yyyyMMddHHmm", CultureInfo.InvariantCulture)}",
            $"affiliate {referrerId:D}",
            string.Create(CultureInfo.InvariantCulture,
                $"More than {options.MaxRegistrationsPerMinutePerCode} registrations per minute with referral code {code}: user {uncreditedUser:D} and any others this minute were registered without the referrer."),
            now, ct);
}
