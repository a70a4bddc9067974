using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Outbox;

namespace Satsub.Affiliates;

/// <summary>
/// Queues <c>affiliate.tier_up</c> when a sale lifts its affiliate into a higher tier. Runs inside the settlement's
/// transaction after the sale's commission is saved, so the rate it computes is the one the next sale will get.
/// One event per affiliate and tier, ever: falling back (after refunds) and climbing again does not notify twice.
/// </summary>
public static class TierUps
{
    public const string EventType = "affiliate.tier_up";

    public static async Task QueueIfRaisedAsync(SatsubDbContext db, CommissionRates rates, Guid affiliateId, CommissionRate before,
        Guid invoiceId, DateTimeOffset now, CancellationToken ct)
    {
        if (!rates.HasTiers) return;
        var after = await rates.ForAsync(db, affiliateId, ct);
        if (after.TierName is null || after.Bps <= before.Bps) return;
        var key = $"{EventType}:{affiliateId:D}:{after.TierName}";
        // A concurrent settlement may insert the same key first: the unique index then fails this transaction,
        // and the settlement's retry finds the event queued.
        if (await db.OutboxMessages.AnyAsync(m => m.DedupeKey == key, ct)) return;
        OutboxWriter.Enqueue(db, EventType, key, new
        {
            AffiliateId = affiliateId.ToString("D"),
            Tier = after.TierName,
            PreviousTier = before.TierName,
            RateBps = after.Bps,
            PreviousRateBps = before.Bps,
            InvoiceId = invoiceId.ToString("D"),
        }, now);
        await db.SaveChangesAsync(ct);
    }
}
