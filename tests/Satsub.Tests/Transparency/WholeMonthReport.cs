using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates.Rating;
using Satsub.Data;
using Satsub.Transparency;

namespace Satsub.Tests.Transparency;

/// <summary>
/// The report as the code before streaming built it, kept verbatim as the reference: the whole month's postings with their
/// entries in memory, one list of rows, one string. Streaming must produce the same bytes, digest and totals.
/// </summary>
public static class WholeMonthReport
{
    public static async Task<(string Csv, string Sha256, ReportTotals Totals)> BuildAsync(SatsubDbContext db, DateTimeOffset from, DateTimeOffset to,
        Action? sample = null)
    {
        var rows = await RowsAsync(db, from, to, default);
        sample?.Invoke();
        var csv = Write(rows);
        sample?.Invoke();
        return (csv, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(csv))), Totals(rows));
    }

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
                switch (ReportBuilder.Bucket(e.Account, out var userId))
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

    private static string Write(IEnumerable<ReportRow> rows)
    {
        const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";
        static string Number(long v) => v.ToString(CultureInfo.InvariantCulture);
        var sb = new StringBuilder(ReportCsv.Header).Append('\n');
        foreach (var r in rows.OrderBy(r => r.Time).ThenBy(r => r.PostingId.ToString("D"), StringComparer.Ordinal))
        {
            sb.Append(r.Type).Append(',')
              .Append(r.Time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture)).Append(',')
              .Append(r.PostingId.ToString("D")).Append(',')
              .Append(r.Plan).Append(',')
              .Append(Number(r.AmountSats)).Append(',')
              .Append(Number(r.OwnerShareSats)).Append(',')
              .Append(Number(r.AffiliateShareSats)).Append(',')
              .Append(Number(r.FeeSats)).Append(',')
              .Append(r.Affiliate).Append(',')
              .Append(r.PaymentHash).Append(',')
              .Append(r.Txid).Append('\n');
        }
        return sb.ToString();
    }

    private static ReportTotals Totals(IReadOnlyCollection<ReportRow> rows)
    {
        var sales = rows.Where(r => r.Type == ReportRow.Sale).ToList();
        var refunds = rows.Where(r => r.Type == ReportRow.Refund).ToList();
        var payouts = rows.Where(r => r.Type == ReportRow.Payout).ToList();
        return new ReportTotals(
            sales.Count,
            sales.Sum(r => r.AmountSats),
            refunds.Count,
            -refunds.Sum(r => r.AmountSats),
            rows.Sum(r => r.OwnerShareSats),
            sales.Concat(refunds).Sum(r => r.AffiliateShareSats),
            payouts.Count,
            payouts.Sum(r => r.AmountSats),
            rows.Sum(r => r.FeeSats),
            rows.Sum(r => r.AffiliateShareSats));
    }

    private static Guid? PayoutIdOf(string idempotencyKey)
    {
        if (!idempotencyKey.StartsWith("payout:", StringComparison.Ordinal)) return null;
        var parts = idempotencyKey.Split(':');
        return parts.Length == 3 && Guid.TryParse(parts[1], out var id) ? id : null;
    }
}
