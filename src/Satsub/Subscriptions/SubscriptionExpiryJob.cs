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

    /// <summary>Rows read (and events written) per statement.</summary>
    internal const int PageSize = 500;

    /// <summary>Pages of lapsed subscriptions handled per run, so one run stays short (the next minute takes the rest).</summary>
    private const int MaxLapsedPagesPerRun = 20;

    /// <summary>Emits what is due; returns how many events were newly queued.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var grace = TimeSpan.FromHours(options.Value.GraceHours);
        var emitted = 0;

        // Reminders: every subscription expiring within three days, a page at a time (in expiry order), each page's
        // events in one statement; the ones already queued are no-ops by their key.
        var soon = now.AddDays(3);
        await foreach (var page in PagesAsync(db.Subscriptions.Where(s => s.Status == SubscriptionStatus.Active && s.ExpiresAt > now && s.ExpiresAt <= soon), ct))
        {
            emitted += await EmitAsync(page.Select(s =>
            {
                var left = s.ExpiresAt!.Value - now;
                // Only the nearest reminder: a subscription bought with less than a day left gets the one-day one only.
                var days = left <= TimeSpan.FromDays(1) ? 1 : 3;
                return Event("subscription.expiring", $"subscription.expiring:{s.Id:D}:{Stamp(s.ExpiresAt.Value)}:{days}d", new
                {
                    SubscriptionId = s.Id.ToString("D"), UserId = s.UserId.ToString("D"), Plan = s.PlanCode, s.ExpiresAt, DaysLeft = days,
                });
            }).ToList(), now, ct);
        }

        // Expiry: a page of lapsed subscriptions marked expired with their events in one transaction. The update is
        // checked against each row's version, so one renewed (or refunded) at this very moment fails the page, which is
        // then done one subscription at a time (the renewed one is skipped: the next run sees its new state).
        for (var pages = 0; pages < MaxLapsedPagesPerRun; pages++)
        {
            db.ChangeTracker.Clear();
            var lapsed = await db.Subscriptions
                .Where(s => s.Status == SubscriptionStatus.Active && s.ExpiresAt <= now)
                .OrderBy(s => s.ExpiresAt).Take(PageSize).ToListAsync(ct);
            if (lapsed.Count == 0) break;
            try
            {
                emitted += await ExpireAsync(lapsed, now, ct);
            }
            catch (DbUpdateConcurrencyException)
            {
                var ids = lapsed.Select(s => s.Id).ToList();
                foreach (var id in ids)
                {
                    db.ChangeTracker.Clear();
                    var one = await db.Subscriptions.Where(s => s.Id == id && s.Status == SubscriptionStatus.Active && s.ExpiresAt <= now).ToListAsync(ct);
                    if (one.Count == 0) continue;
                    try { emitted += await ExpireAsync(one, now, ct); }
                    catch (DbUpdateConcurrencyException) { } // renewed or refunded meanwhile: the next run sees its new state
                }
            }
            if (lapsed.Count < PageSize) break;
        }

        // Removal: expired subscriptions whose grace is over (a week's window keeps the scan small; the key keeps it once).
        var removeBefore = now - grace;
        var windowStart = removeBefore.AddDays(-7);
        var due = db.Subscriptions.Where(s => s.Status == SubscriptionStatus.Expired && s.ExpiresAt <= removeBefore && s.ExpiresAt > windowStart);
        await foreach (var page in PagesAsync(due, ct))
        {
            emitted += await EmitAsync(page.Select(s => Event(RemovalEvent, $"{RemovalEvent}:{s.Id:D}:{Stamp(s.ExpiresAt!.Value)}", new
            {
                SubscriptionId = s.Id.ToString("D"), UserId = s.UserId.ToString("D"), Plan = s.PlanCode, s.ExpiresAt,
            })).ToList(), now, ct);
        }
        return emitted;
    }

    /// <summary>The subscriptions of <paramref name="query"/>, untracked, a page at a time in (expiry, id) order (keyset: each page starts after the last one's row).</summary>
    private static async IAsyncEnumerable<List<Subscription>> PagesAsync(IQueryable<Subscription> query,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        DateTimeOffset? afterExpiry = null;
        Guid afterId = default;
        while (true)
        {
            var next = query.AsNoTracking();
            if (afterExpiry is { } e)
            {
                var id = afterId;
                next = next.Where(s => s.ExpiresAt > e || (s.ExpiresAt == e && s.Id.CompareTo(id) > 0));
            }
            var page = await next.OrderBy(s => s.ExpiresAt).ThenBy(s => s.Id).Take(PageSize).ToListAsync(ct);
            if (page.Count == 0) yield break;
            yield return page;
            if (page.Count < PageSize) yield break;
            (afterExpiry, afterId) = (page[^1].ExpiresAt, page[^1].Id);
        }
    }

    /// <summary>Marks the (tracked, lapsed) subscriptions expired and queues their events, in one transaction.</summary>
    private async Task<int> ExpireAsync(List<Subscription> lapsed, DateTimeOffset now, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        foreach (var s in lapsed) s.MarkExpired(now);
        await db.SaveChangesAsync(ct);
        var emitted = await EmitAsync(lapsed.Select(s => Event("subscription.expired", $"subscription.expired:{s.Id:D}:{Stamp(s.ExpiresAt!.Value)}", new
        {
            SubscriptionId = s.Id.ToString("D"), UserId = s.UserId.ToString("D"), Plan = s.PlanCode, s.ExpiresAt, Reason = "expired",
        })).ToList(), now, ct);
        await tx.CommitAsync(ct);
        return emitted;
    }

    private static long Stamp(DateTimeOffset at) => at.ToUnixTimeSeconds();

    private static (string Type, string Key, string Payload) Event<T>(string type, string key, T payload) => (type, key, JsonSerializer.Serialize(payload, Json));

    /// <summary>Queues the events in one statement (INSERT … VALUES …, … ON CONFLICT DO NOTHING); returns how many were new.</summary>
    private async Task<int> EmitAsync(List<(string Type, string Key, string Payload)> events, DateTimeOffset now, CancellationToken ct)
    {
        if (events.Count == 0) return 0;
        var sql = new System.Text.StringBuilder("INSERT INTO outbox_messages (type, dedupe_key, payload, created_at, available_at, attempts) VALUES ");
        var parameters = new List<object> { db.Time(now) };
        foreach (var (type, key, payload) in events)
        {
            if (parameters.Count > 1) sql.Append(", ");
            var p = parameters.Count;
            sql.Append(System.Globalization.CultureInfo.InvariantCulture, $"({{{p}}}, {{{p + 1}}}, {{{p + 2}}}, {{0}}, {{0}}, 0)");
            parameters.Add(type);
            parameters.Add(key);
            parameters.Add(payload);
        }
        sql.Append(" ON CONFLICT (dedupe_key) DO NOTHING");
        return await db.Database.ExecuteSqlRawAsync(sql.ToString(), parameters, ct);
    }
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
