using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Data;
using Satsub.Outbox;
using Satsub.Referrals;

namespace Satsub.Users;

public sealed record RegistrationRequest(string Platform, string? ExternalId, string? Username, string? Referral);

/// <summary>Registers users. The referrer is fixed here, once: an unknown referral is refused, never guessed.</summary>
public sealed partial class UserRegistration(SatsubDbContext db, TimeProvider clock, Microsoft.Extensions.Options.IOptions<Affiliates.AffiliateOptions> affiliateOptions)
{
    [GeneratedRegex("^[a-z][a-z0-9_-]{1,31}$")]
    public static partial Regex PlatformPattern();

    /// <summary>Platforms whose users carry an external id; on the others the username identifies the user.</summary>
    public static bool UsesExternalId(string platform) => platform is "telegram" or "discord";

    public async Task<(User User, bool Created)> RegisterAsync(RegistrationRequest request, CancellationToken ct)
    {
        var platform = request.Platform.Trim().ToLowerInvariant();
        if (!PlatformPattern().IsMatch(platform))
            throw new DomainException("invalid_platform", "platform is 2-32 characters of a-z, 0-9, '_' and '-', starting with a letter.", 400);
        var externalId = string.IsNullOrWhiteSpace(request.ExternalId) ? null : request.ExternalId.Trim();
        var username = string.IsNullOrWhiteSpace(request.Username) ? null : request.Username.Trim();
        if (UsesExternalId(platform) && externalId is null)
            throw new DomainException("external_id_required", $"Users on '{platform}' are identified by external_id.", 400);
        if (!UsesExternalId(platform) && username is null)
            throw new DomainException("username_required", $"Users on '{platform}' are identified by a username.", 400);

        var existing = await FindAsync(platform, externalId, username, ct);
        if (existing is not null)
        {
            if (!UsesExternalId(platform))
                throw new DomainException("username_taken", $"The username is already registered on '{platform}'.", 409);
            return (existing, false);
        }

        var id = Guid.CreateVersion7(clock.GetUtcNow());
        Guid? referrerId = null;
        User? throttled = null;
        if (!string.IsNullOrWhiteSpace(request.Referral))
        {
            var referrer = await ResolveReferrerAsync(request.Referral.Trim(), ct)
                ?? throw new DomainException("unknown_referrer", "referral_id names no user: give a user id or a referral code.", 422);
            referrerId = referrer.Id;
            // Velocity guard: register the user anyway, without crediting the referrer, and flag the code.
            if (await ReferralVelocity.IsOverLimitAsync(db, affiliateOptions.Value, referrer.Id, clock.GetUtcNow(), ct))
            {
                referrerId = null;
                throttled = referrer;
            }
        }

        for (var attempt = 0; ; attempt++)
        {
            var user = new User(id, platform, externalId, username, ReferralCodes.New(), referrerId, clock.GetUtcNow());
            db.Users.Add(user);
            OutboxWriter.Enqueue(db, "user.registered", $"user.registered:{id:D}", new
            {
                UserId = id.ToString("D"),
                Platform = platform,
                ReferrerId = referrerId?.ToString("D"),
            }, user.CreatedAt);
            try
            {
                // The referrer's count of referred users moves in the same transaction as the registration (the caller's,
                // when there is one: the bot handles an update in one).
                var own = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
                await using (own)
                {
                    await db.SaveChangesAsync(ct);
                    if (referrerId is { } referrer) await Affiliates.Standings.AffiliateStandings.OnReferralAsync(db, referrer, ct);
                    if (own is not null) await own.CommitAsync(ct);
                }
                if (throttled is not null)
                    await ReferralVelocity.FlagAsync(db, affiliateOptions.Value, throttled.Id, throttled.ReferralCode, id, user.CreatedAt, ct);
                return (user, true);
            }
            catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex) && attempt < 3)
            {
                db.ChangeTracker.Clear();
                // Either the same person registered concurrently (return them) or the referral code collided (retry).
                var raced = await FindAsync(platform, externalId, username, ct);
                if (raced is not null)
                {
                    if (!UsesExternalId(platform))
                        throw new DomainException("username_taken", $"The username is already registered on '{platform}'.", 409);
                    return (raced, false);
                }
            }
        }
    }

    public async Task<User?> ResolveReferrerAsync(string referral, CancellationToken ct)
    {
        if (Guid.TryParse(referral, out var id))
            return await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == id, ct);
        var code = referral.ToLowerInvariant();
        return ReferralCodes.LooksLikeCode(code)
            ? await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.ReferralCode == code, ct)
            : null;
    }

    private Task<User?> FindAsync(string platform, string? externalId, string? username, CancellationToken ct) =>
        externalId is not null
            ? db.Users.SingleOrDefaultAsync(u => u.Platform == platform && u.ExternalId == externalId, ct)
            : db.Users.SingleOrDefaultAsync(u => u.Platform == platform && u.ExternalId == null && u.Username == username && u.ErasedAt == null, ct);
}
