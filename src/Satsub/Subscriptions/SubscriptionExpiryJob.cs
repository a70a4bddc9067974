using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Hosting;

namespace Satsub.Subscriptions;

/// <summary><c>Subscriptions:*</c>.</summary>
public sealed class SubscriptionOptions
{
    public const string Section = "Subscriptions";

    /// <summary>Hours after expiry before a lapsed subscriber is removed from the plan's chats.</summary>
    public int GraceHours { get; set; } = 24;
}

internal sealed class SubscriptionOptionsValidator : IValidateOptions<SubscriptionOptions>
{
    public ValidateOptionsResult Validate(string? name, SubscriptionOptions o) =>
        o.GraceHours is < 0 or > 24 * 90
            ? ValidateOptionsResult.Fail("Subscriptions:GraceHours must be between 0 and 2160.")
            : ValidateOptionsResult.Success;
}

/// <summary>
/// Reminders 3 days and 1 day before expiry, <c>subscription.expired</c> at expiry and the removal at expiry plus
/// <c>Subscriptions:GraceHours</c>, each as an outbox event whose dedupe key names the subscription and the expiry it is
/// about: every run (on any instance, after any restart) may find the same subscription again, and the unique key
/// makes the second event a no-op. A renewal moves the expiry, so the next period gets its own reminders.
/// </summary>
public sealed class SubscriptionExpiry(SatsubDbContext db, IOptions<SubscriptionOptions> options, TimeProvider clock)
{
    public const string RemovalEvent = SubscriptionExpiryJob.RemovalEvent;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Emits what is due; returns how many events were newly queued.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var grace = TimeSpan.FromHours(options.Value.GraceHours);
        var emitted = 0;

        var soon = now.AddDays(3);
        var expiring = await db.Subscriptions.AsNoTracking()
            .Where(s => s.Status == SubscriptionStatus.Active && s.ExpiresAt > now && s.ExpiresAt <= soon)
            .OrderBy(s => s.ExpiresAt).Take(1000).ToListAsync(ct);
        foreach (var s in expiring)
        {
            var left = s.ExpiresAt!.Value - now;
            // Only the nearest reminder: a subscription bought with less than a day left gets the one-day one only.
            var days = left <= TimeSpan.FromDays(1) ? 1 : 3;
            emitted += await EmitAsync("subscription.expiring", $"subscription.expiring:{s.Id:D}:{Stamp(s.ExpiresAt.Value)}:{days}d", new
            {
                SubscriptionId = s.Id.ToString("D"), UserId = s.UserId.ToString("D"), Plan = s.PlanCode, s.ExpiresAt, DaysLeft = days,
            }, now, ct);
        }

        var lapsed = await db.Subscriptions
            .Where(s => s.Status == SubscriptionStatus.Active && s.ExpiresAt <= now)
            .OrderBy(s => s.ExpiresAt).Take(1000).ToListAsync(ct);
        foreach (var s in lapsed)
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            s.MarkExpired(now);
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                // Renewed (or refunded) at this very moment: the next run sees its new state.
                await tx.RollbackAsync(ct);
                db.ChangeTracker.Clear();
                continue;
            }
            emitted += await EmitAsync("subscription.expired", $"subscription.expired:{s.Id:D}:{Stamp(s.ExpiresAt!.Value)}", new
            {
                SubscriptionId = s.Id.ToString("D"), UserId = s.UserId.ToString("D"), Plan = s.PlanCode, s.ExpiresAt, Reason = "expired",
            }, now, ct);
            await tx.CommitAsync(ct);
        }

        // Removal: expired subscriptions whose grace is over (a week's window keeps the scan small; the key keeps it once).
        var removeBefore = now - grace;
        var windowStart = removeBefore.AddDays(-7);
        var due = await db.Subscriptions.AsNoTracking()
            .Where(s => s.Status == SubscriptionStatus.Expired && s.ExpiresAt <= removeBefore && s.ExpiresAt > windowStart)
            .OrderBy(s => s.ExpiresAt).Take(1000).ToListAsync(ct);
        foreach (var s in due)
        {
            emitted += await EmitAsync(RemovalEvent, $"{RemovalEvent}:{s.Id:D}:{Stamp(s.ExpiresAt!.Value)}", new
            {
                SubscriptionId = s.Id.ToString("D"), UserId = s.UserId.ToString("D"), Plan = s.PlanCode, s.ExpiresAt,
            }, now, ct);
        }
        return emitted;
    }

    private static long Stamp(DateTimeOffset at) => at.ToUnixTimeSeconds();

    private async Task<int> EmitAsync<T>(string type, string key, T payload, DateTimeOffset now, CancellationToken ct) =>
        await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO outbox_messages (type, dedupe_key, payload, created_at, available_at, attempts) VALUES ({0}, {1}, {2}, {3}, {3}, 0) " +
            "ON CONFLICT (dedupe_key) DO NOTHING",
            [type, key, JsonSerializer.Serialize(payload, Json), db.Time(now)], ct);
}

/// <summary>Runs <see cref="SubscriptionExpiry"/> every minute.</summary>
public sealed class SubscriptionExpiryJob(IServiceScopeFactory scopes, TimeProvider clock, ILogger<SubscriptionExpiryJob> logger)
    : PeriodicJob(scopes, clock, logger)
{
    /// <summary>Internal event: the grace period after expiry is over, remove the user from the plan's chats.</summary>
    public const string RemovalEvent = "subscription.removal_due";

    protected override TimeSpan Interval => TimeSpan.FromMinutes(1);

    protected override bool OncePerPeriod => true;

    protected override Task RunOnceAsync(IServiceProvider services, CancellationToken ct) =>
        services.GetRequiredService<SubscriptionExpiry>().RunOnceAsync(ct);
}
