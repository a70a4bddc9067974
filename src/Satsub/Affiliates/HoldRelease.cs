using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Data;
using Satsub.Hosting;
using Satsub.Ledger;
using Satsub.Outbox;

namespace Satsub.Affiliates;

/// <summary>
/// Moves commissions whose hold period has ended from <c>pending</c> to <c>available</c>. Each release is its own
/// posting (<c>release:{commission}</c>) guarded by a conditional update of the commission, so running it twice,
/// concurrently or after a crash, releases each commission once.
/// </summary>
public sealed class HoldRelease(SatsubDbContext db, TimeProvider clock, ILogger<HoldRelease> logger)
{
    private const int BatchSize = 200;

    public async Task<int> ReleaseDueAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var due = await db.Commissions.AsNoTracking()
            .Where(c => c.State == CommissionState.Pending && c.AvailableAt <= now)
            .OrderBy(c => c.AvailableAt).Take(BatchSize)
            .ToListAsync(ct);
        var released = 0;
        foreach (var c in due)
        {
            db.ChangeTracker.Clear();
            try
            {
                if (await ReleaseAsync(c, now, ct)) released++;
            }
            catch (Exception ex) when (DbErrors.IsRetryableConflict(ex))
            {
                // Another worker released it (or a refund clawed it back) first: nothing to do.
                logger.LogDebug("Commission {CommissionId} was released concurrently", c.Id);
            }
        }
        return released;
    }

    private async Task<bool> ReleaseAsync(Commission c, DateTimeOffset now, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var claimed = await db.UpdateVersionedAsync(db.Commissions.Where(x => x.Id == c.Id && x.State == CommissionState.Pending),
            s => s.SetProperty(x => x.State, CommissionState.Available), ct);
        if (claimed == 0) return false;
        if (c.AmountSats > 0)
        {
            LedgerBook.Post(db, $"release:{c.Id:D}", "hold_release", now,
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
        await tx.CommitAsync(ct);
        return true;
    }
}

/// <summary>Releases held commissions every minute.</summary>
public sealed class HoldReleaseWorker(IServiceScopeFactory scopes, TimeProvider clock, ILogger<HoldReleaseWorker> logger)
    : PeriodicJob(scopes, clock, logger)
{
    protected override bool OncePerPeriod => true;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(1);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken ct)
    {
        var release = services.GetRequiredService<HoldRelease>();
        while (await release.ReleaseDueAsync(ct) > 0) { }
    }
}
