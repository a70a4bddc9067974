using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Common;
using Satsub.Data;
using Satsub.Hosting;

namespace Satsub.Payouts;

/// <summary>
/// <c>Payouts:Schedule</c> (<c>daily</c> or <c>weekly</c>): once per period, every affiliate with a saved destination and
/// at least <c>Payouts:ScheduleMinSats</c> (and the destination's minimum) available is paid everything available,
/// through the same <see cref="PayoutService.RequestAsync"/> as a withdrawal (limits, fraud guards, approval). Each
/// payout carries its period key (<c>daily:2026-01-15</c>, <c>weekly:2026-W03</c>), unique per affiliate, checked under
/// the request lock: running twice, concurrently or after a crash, pays each affiliate at most once per period.
/// Periods are UTC days and ISO weeks (from Monday 00:00 UTC); the first run in a period pays it.
/// </summary>
public sealed class ScheduledPayouts(SatsubDbContext db, PayoutService payouts, IOptions<PayoutOptions> options, TimeProvider clock,
    ILogger<ScheduledPayouts> logger)
{
    public static string? PeriodKey(string? schedule, DateTimeOffset now)
    {
        var day = now.UtcDateTime.Date;
        return PayoutOptions.Normalize(schedule) switch
        {
            "daily" => "daily:" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            "weekly" => string.Create(CultureInfo.InvariantCulture, $"weekly:{ISOWeek.GetYear(day)}-W{ISOWeek.GetWeekOfYear(day):00}"),
            _ => null,
        };
    }

    /// <summary>One pass: returns how many payouts it requested.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var o = options.Value;
        var key = PeriodKey(o.Schedule, clock.GetUtcNow());
        if (key is null) return 0;
        var threshold = Math.Max(o.ScheduleMinSats, o.MinSats);

        // Available balances at or above the threshold, from the ledger (account affiliate:{id}:available).
        var rich = await db.LedgerEntries
            .Where(e => e.Account.StartsWith("affiliate:") && e.Account.EndsWith(":available"))
            .GroupBy(e => e.Account)
            .Where(g => g.Sum(e => e.AmountSats) >= threshold)
            .Select(g => g.Key)
            .ToListAsync(ct);
        var ids = rich.Select(a => Guid.TryParse(a.AsSpan("affiliate:".Length, 36), out var id) ? id : Guid.Empty)
            .Where(id => id != Guid.Empty).ToList();
        if (ids.Count == 0) return 0;
        var due = await db.Users.AsNoTracking()
            .Where(u => ids.Contains(u.Id) && u.PayoutDestination != null && u.ErasedAt == null
                && !db.Payouts.Any(p => p.UserId == u.Id && p.ScheduleKey == key))
            .OrderBy(u => u.Id).Select(u => u.Id).ToListAsync(ct);

        var requested = 0;
        foreach (var userId in due)
        {
            try
            {
                await payouts.RequestAsync(userId, amountSats: null, destination: null, ct, scheduleKey: key);
                requested++;
            }
            catch (DomainException e)
            {
                // Below a destination's minimum, too few paying referrals, today's cap…: next period, or a withdrawal.
                logger.LogInformation("Scheduled payout {Period} for {UserId} not requested: {Code}", key, userId, e.Code);
            }
        }
        if (requested > 0) logger.LogInformation("Scheduled payouts {Period}: {Count} requested", key, requested);
        return requested;
    }
}

/// <summary>Runs <see cref="ScheduledPayouts"/> every minute (it does nothing with <c>Payouts:Schedule</c> = <c>off</c>).</summary>
public sealed class ScheduledPayoutWorker(IServiceScopeFactory scopes, TimeProvider clock, ILogger<ScheduledPayoutWorker> logger)
    : PeriodicJob(scopes, clock, logger)
{
    protected override TimeSpan Interval => TimeSpan.FromMinutes(1);

    protected override bool OncePerPeriod => true;

    protected override Task RunOnceAsync(IServiceProvider services, CancellationToken ct) =>
        services.GetRequiredService<ScheduledPayouts>().RunOnceAsync(ct);
}
