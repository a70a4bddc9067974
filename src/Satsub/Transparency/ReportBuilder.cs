using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates.Rating;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payouts;

namespace Satsub.Transparency;

/// <summary>
/// Builds report rows from the ledger itself: every posting in the period that moves public money (what customers paid,
/// the owner's revenue, what affiliates are owed or were paid, payout fees) becomes one row carrying those movements.
/// Postings that only move money between an affiliate's own buckets (hold release, payout reservation, a rejected or
/// failed payout's return) are internal and left out; their net is zero by construction.
/// </summary>
public static class ReportBuilder
{
    private const string AffiliatePrefix = "affiliate:";

    public static async Task<List<ReportRow>> RowsAsync(SatsubDbContext db, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var postings = await db.LedgerPostings.AsNoTracking().Include(p => p.Entries)
            .Where(p => p.CreatedAt >= from && p.CreatedAt < to)
            .ToListAsync(ct);

        var invoiceIds = postings.Where(p => p.InvoiceId is not null).Select(p => p.InvoiceId!.Value).Distinct().ToList();
        var plans = new Dictionary<Guid, string>();
        foreach (var chunk in invoiceIds.Chunk(500))
        {
            foreach (var i in await db.Invoices.AsNoTracking().Where(i => chunk.Contains(i.Id)).Select(i => new { i.Id, i.PlanCode }).ToListAsync(ct))
                plans[i.Id] = i.PlanCode;
        }

        var payoutIds = postings.Select(p => PayoutIdOf(p.IdempotencyKey)).OfType<Guid>().Distinct().ToList();
        var payouts = new Dictionary<Guid, (string? Hash, string? Txid)>();
        foreach (var chunk in payoutIds.Chunk(500))
        {
            foreach (var p in await db.Payouts.AsNoTracking().Where(p => chunk.Contains(p.Id)).Select(p => new { p.Id, p.PaymentHash, p.Txid }).ToListAsync(ct))
                payouts[p.Id] = (p.PaymentHash, p.Txid);
        }

        var rows = new List<ReportRow>();
        foreach (var p in postings)
        {
            long customer = 0, owner = 0, owed = 0, paid = 0, fees = 0;
            Guid? affiliate = null;
            foreach (var e in p.Entries)
            {
                switch (Bucket(e.Account, out var userId))
                {
                    case "customer": customer += e.AmountSats; break;
                    case "owner": owner += e.AmountSats; break;
                    case "owed": owed += e.AmountSats; affiliate ??= userId; break;
                    case "paid": paid += e.AmountSats; affiliate = userId; break;
                    case "fees": fees += e.AmountSats; break;
                    // An account outside the published buckets (none today) is not part of the public split.
                    default: break;
                }
            }
            if (customer == 0 && owner == 0 && owed == 0 && paid == 0 && fees == 0) continue;

            var type = p.Kind switch
            {
                "sale" => ReportRow.Sale,
                "refund" => ReportRow.Refund,
                "payout_settle" => ReportRow.Payout,
                _ => ReportRow.Adjustment,
            };
            var plan = p.InvoiceId is { } invoiceId ? plans.GetValueOrDefault(invoiceId) : null;
            string? hash = null, txid = null;
            if (PayoutIdOf(p.IdempotencyKey) is { } payoutId && payouts.TryGetValue(payoutId, out var payout)) (hash, txid) = payout;
            var amount = type == ReportRow.Payout ? paid : -customer;
            rows.Add(new ReportRow(type, p.CreatedAt, p.Id, type is ReportRow.Sale or ReportRow.Refund ? plan : null,
                amount, owner, owed, fees, affiliate is { } a ? Pseudonyms.Affiliate(a) : null,
                type == ReportRow.Payout ? hash : null, type == ReportRow.Payout ? txid : null));
        }
        return rows;
    }

    /// <summary>Which public bucket an account belongs to; affiliate accounts also give the affiliate's id.</summary>
    internal static string Bucket(string account, out Guid? affiliate)
    {
        affiliate = null;
        switch (account)
        {
            case Accounts.CustomerPayments: return "customer";
            case Accounts.OwnerRevenue: return "owner";
            case Accounts.PayoutsInFlight: return "owed";
            case PayoutAccounts.Fees: return "fees";
        }
        if (account.StartsWith(AffiliatePrefix, StringComparison.Ordinal))
        {
            var rest = account.AsSpan(AffiliatePrefix.Length);
            var colon = rest.IndexOf(':');
            if (colon > 0 && Guid.TryParse(rest[..colon], out var id))
            {
                affiliate = id;
                var bucket = rest[(colon + 1)..];
                if (bucket is "pending" or "available") return "owed";
                if (bucket is "paid") return "paid";
            }
        }
        return "unknown";
    }

    private static Guid? PayoutIdOf(string idempotencyKey)
    {
        // payout:{id}:settle (PayoutBook.SettleKey)
        if (!idempotencyKey.StartsWith("payout:", StringComparison.Ordinal)) return null;
        var parts = idempotencyKey.Split(':');
        return parts.Length == 3 && Guid.TryParse(parts[1], out var id) ? id : null;
    }
}
