using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Outbox;

namespace Satsub.Payouts;

/// <summary>Payout account names beside <see cref="Accounts"/>.</summary>
public static class PayoutAccounts
{
    /// <summary>Network and routing fees paid on payouts, by the affiliate or the owner depending on the fee policy.</summary>
    public const string Fees = "payout_fees";
}

/// <summary>
/// The payout state changes that move money. Each is a conditional update of the payout's status (so only one caller
/// wins) and its posting (whose idempotency key makes a second one impossible) in one transaction:
/// <c>payout:{id}:reserve</c> at request, then exactly one of <c>payout:{id}:settle</c> or <c>payout:{id}:return</c>.
/// </summary>
internal static class PayoutBook
{
    public static string ReserveKey(Guid id) => $"payout:{id:D}:reserve";
    public static string SettleKey(Guid id) => $"payout:{id:D}:settle";
    public static string ReturnKey(Guid id) => $"payout:{id:D}:return";

    /// <summary>Sets the status where it is one of <paramref name="from"/>; the row version moves on both databases.</summary>
    public static Task<int> TransitionAsync(SatsubDbContext db, Guid id, PayoutStatus[] from, PayoutStatus to, DateTimeOffset now,
        Action<UpdateSettersBuilder<Payout>>? also, CancellationToken ct)
    {
        var query = db.Payouts.Where(p => p.Id == id);
        query = from.Length switch
        {
            1 => query.Where(p => p.Status == from[0]),
            2 => query.Where(p => p.Status == from[0] || p.Status == from[1]),
            _ => throw new ArgumentOutOfRangeException(nameof(from)),
        };
        return db.UpdateVersionedAsync(query, s =>
        {
            s.SetProperty(p => p.Status, to).SetProperty(p => p.UpdatedAt, now);
            also?.Invoke(s);
        }, ct);
    }

    /// <summary>Moves the amount from in flight to paid; the fee is booked by the fee policy. False when another caller completed the payout first.</summary>
    public static async Task<bool> CompleteSentAsync(SatsubDbContext db, Guid id, PayoutStatus[] from, PayoutAttempt attempt, PayoutFeePolicy policy,
        DateTimeOffset now, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var payout = await db.Payouts.AsNoTracking().SingleAsync(p => p.Id == id, ct);
        var amount = payout.AmountSats;
        var fee = Math.Max(0, attempt.FeeSats);
        var sent = Math.Clamp(attempt.SentSats ?? (policy == PayoutFeePolicy.Affiliate ? amount - fee : amount), 1, amount);
        var changed = await TransitionAsync(db, id, from, PayoutStatus.Sent, now, s => s
            .SetProperty(p => p.FeeSats, fee)
            .SetProperty(p => p.SentSats, sent)
            .SetProperty(p => p.PaymentHash, p => attempt.PaymentHash ?? p.PaymentHash)
            .SetProperty(p => p.Txid, p => attempt.Txid ?? p.Txid), ct);
        if (changed == 0) return false;

        // The affiliate bears the fee only out of what was not sent (a BOLT11 fixes the amount: its fee falls to the owner).
        var affiliateFee = policy == PayoutFeePolicy.Affiliate ? Math.Min(fee, amount - sent) : 0;
        var ownerFee = fee - affiliateFee;
        var unspent = amount - sent - affiliateFee;
        var entries = new List<(string, Sats)>
        {
            (Accounts.PayoutsInFlight, new Sats(-amount)),
            (Accounts.AffiliatePaid(payout.UserId), new Sats(sent)),
        };
        if (fee > 0) entries.Add((PayoutAccounts.Fees, new Sats(fee)));
        if (ownerFee > 0) entries.Add((Accounts.OwnerRevenue, new Sats(-ownerFee)));
        if (unspent > 0) entries.Add((Accounts.AffiliateAvailable(payout.UserId), new Sats(unspent)));
        LedgerBook.Post(db, SettleKey(id), "payout_settle", now, entries);
        OutboxWriter.Enqueue(db, "payout.sent", $"payout.sent:{id:D}", new
        {
            PayoutId = id.ToString("D"),
            UserId = payout.UserId.ToString("D"),
            AmountSats = amount,
            SentSats = sent,
            FeeSats = fee,
            Destination = payout.Destination,
            PaymentHash = attempt.PaymentHash ?? payout.PaymentHash,
            Txid = attempt.Txid ?? payout.Txid,
        }, now);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>Gives the amount back to the affiliate's available balance (failed or rejected). False when the payout had already moved on.</summary>
    public static async Task<bool> ReturnAsync(SatsubDbContext db, Guid id, PayoutStatus[] from, PayoutStatus to, string reason, DateTimeOffset now, CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        reason = reason.Length > 512 ? reason[..512] : reason;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var payout = await db.Payouts.AsNoTracking().SingleAsync(p => p.Id == id, ct);
        var changed = await TransitionAsync(db, id, from, to, now, s => s.SetProperty(p => p.FailureReason, reason), ct);
        if (changed == 0) return false;
        LedgerBook.Post(db, ReturnKey(id), to == PayoutStatus.Rejected ? "payout_reject" : "payout_fail", now,
            [(Accounts.PayoutsInFlight, new Sats(-payout.AmountSats)), (Accounts.AffiliateAvailable(payout.UserId), new Sats(payout.AmountSats))]);
        var type = to == PayoutStatus.Rejected ? "payout.rejected" : "payout.failed";
        OutboxWriter.Enqueue(db, type, $"{type}:{id:D}", new
        {
            PayoutId = id.ToString("D"),
            UserId = payout.UserId.ToString("D"),
            payout.AmountSats,
            Reason = reason,
        }, now);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return true;
    }
}
