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

    /// <summary>Postings read per page: what closing a month holds in memory at once, whatever the month's size.</summary>
    public const int DefaultPageSize = 1000;

    private sealed record PostingHead(Guid Id, DateTimeOffset CreatedAt, string Kind, Guid? InvoiceId, string IdempotencyKey);

    /// <summary>
    /// The rows of the period in canonical order (time, then posting id as lower-case text), read in keyset pages of
    /// <paramref name="pageSize"/> postings: each page's entries, plans and payout references are fetched for that page only.
    /// </summary>
    public static async IAsyncEnumerable<ReportRow> StreamAsync(SatsubDbContext db, DateTimeOffset from, DateTimeOffset to,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct, int pageSize = DefaultPageSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        DateTimeOffset? after = null;
        while (true)
        {
            var query = db.LedgerPostings.AsNoTracking().Where(p => p.CreatedAt < to);
            query = after is { } cursor ? query.Where(p => p.CreatedAt > cursor) : query.Where(p => p.CreatedAt >= from);
            var page = await query.OrderBy(p => p.CreatedAt).Take(pageSize)
                .Select(p => new PostingHead(p.Id, p.CreatedAt, p.Kind, p.InvoiceId, p.IdempotencyKey)).ToListAsync(ct);
            if (page.Count == 0) yield break;
            var last = page.Count == pageSize;
            if (last)
            {
                // The page is ordered by time only (the databases order uuids differently from their text), so the postings
                // at its last instant may continue past it: take them all, and continue strictly after that instant.
                var edge = page[^1].CreatedAt;
                page.RemoveAll(p => p.CreatedAt == edge);
                page.AddRange(await db.LedgerPostings.AsNoTracking().Where(p => p.CreatedAt == edge)
                    .Select(p => new PostingHead(p.Id, p.CreatedAt, p.Kind, p.InvoiceId, p.IdempotencyKey)).ToListAsync(ct));
                after = edge;
            }
            // The canonical order, applied in memory within the page: whole instants never straddle two pages.
            page.Sort(static (a, b) =>
            {
                var byTime = a.CreatedAt.CompareTo(b.CreatedAt);
                return byTime != 0 ? byTime : string.CompareOrdinal(a.Id.ToString("D"), b.Id.ToString("D"));
            });
            foreach (var row in await RowsOfPageAsync(db, page, ct)) yield return row;
            if (!last) yield break;
        }
    }

    private static async Task<List<ReportRow>> RowsOfPageAsync(SatsubDbContext db, List<PostingHead> postings, CancellationToken ct)
    {
        var ids = postings.Select(p => p.Id).ToList();
        var entries = new Dictionary<Guid, List<LedgerEntry>>(postings.Count);
        // In insertion order, as the postings wrote them: which affiliate a row names may depend on it.
        foreach (var e in await db.LedgerEntries.AsNoTracking().Where(e => ids.Contains(e.PostingId)).OrderBy(e => e.Id).ToListAsync(ct))
        {
            if (!entries.TryGetValue(e.PostingId, out var list)) entries[e.PostingId] = list = [];
            list.Add(e);
        }

        var invoiceIds = postings.Where(p => p.InvoiceId is not null).Select(p => p.InvoiceId!.Value).Distinct().ToList();
        var plans = invoiceIds.Count == 0 ? [] : await db.Invoices.AsNoTracking().Where(i => invoiceIds.Contains(i.Id))
            .Select(i => new { i.Id, i.PlanCode }).ToDictionaryAsync(i => i.Id, i => i.PlanCode, ct);

        var payoutIds = postings.Select(p => PayoutIdOf(p.IdempotencyKey)).OfType<Guid>().Distinct().ToList();
        var payouts = payoutIds.Count == 0 ? [] : await db.Payouts.AsNoTracking().Where(p => payoutIds.Contains(p.Id))
            .Select(p => new { p.Id, p.PaymentHash, p.Txid }).ToDictionaryAsync(p => p.Id, p => (p.PaymentHash, p.Txid), ct);

        var rows = new List<ReportRow>(postings.Count);
        foreach (var p in postings)
        {
            long customer = 0, owner = 0, owed = 0, paid = 0, fees = 0;
            Guid? affiliate = null;
            foreach (var e in entries.GetValueOrDefault(p.Id) ?? [])
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
