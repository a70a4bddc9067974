using System.Text;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Payments;

namespace Satsub.Exports;

/// <summary>What can be exported: the names in <c>/admin/exports/{kind}.csv</c> and <c>satsub export {kind}</c>.</summary>
public enum ExportKind
{
    Users,
    Sales,
    Commissions,
    Payouts,
}

/// <summary>An optional time window: <c>from</c> inclusive, <c>to</c> exclusive, on each kind's own time column.</summary>
public sealed record ExportWindow(DateTimeOffset? From, DateTimeOffset? To)
{
    public static readonly ExportWindow All = new(null, null);
}

/// <summary>
/// Streams a table as CSV (RFC 4180, header line first, CRLF line ends): rows are read with
/// <c>AsNoTracking().AsAsyncEnumerable()</c> and written as they arrive, so memory stays flat whatever the row
/// count. Columns per kind (the time column the window applies to in brackets):
/// users [created_at], sales = settled invoices [settled_at], commissions [created_at], payouts [requested_at].
/// Times are UTC ISO 8601, amounts whole satoshis.
/// </summary>
public sealed class CsvExporter(SatsubDbContext db)
{
    public static readonly IReadOnlyDictionary<ExportKind, string> Headers = new Dictionary<ExportKind, string>
    {
        [ExportKind.Users] = "user_id,platform,external_id,username,display_name,language,referrer_id,referral_code,created_at,erased_at",
        [ExportKind.Sales] = "invoice_id,user_id,subscription_id,plan,provider,provider_invoice_id,method,amount_sats,fiat_amount,fiat_currency,settled_at,period_start,period_end",
        [ExportKind.Commissions] = "commission_id,affiliate_id,buyer_id,invoice_id,plan,sale_sats,rate_bps,tier,amount_sats,state,created_at,available_at",
        [ExportKind.Payouts] = "payout_id,user_id,amount_sats,fee_sats,sent_sats,destination_type,destination,provider,status,payment_hash,txid,failure_reason,requested_at,updated_at",
    };

    public static bool TryParseKind(string? text, out ExportKind kind)
    {
        kind = default;
        if (string.IsNullOrEmpty(text)) return false;
        foreach (var k in Enum.GetValues<ExportKind>())
        {
            if (string.Equals(text, k.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                kind = k;
                return true;
            }
        }
        return false;
    }

    /// <summary>Writes the header and every row; returns the number of data rows. The writer is flushed at the end.</summary>
    public async Task<long> WriteAsync(ExportKind kind, ExportWindow window, TextWriter writer, CancellationToken ct, Action<long>? progress = null)
    {
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        await writer.WriteAsync(Headers[kind] + "\r\n");
        var line = new StringBuilder(256);
        long rows = 0;
        await foreach (var _ in Rows(kind, window, line).WithCancellation(ct))
        {
            line.Append("\r\n");
            // StreamWriter buffers: the response or file sees large writes, not one per row.
            await writer.WriteAsync(line, ct);
            line.Clear();
            rows++;
            if (progress is not null && rows % 10_000 == 0) progress(rows);
        }
        await writer.FlushAsync(ct);
        return rows;
    }

    private IAsyncEnumerable<bool> Rows(ExportKind kind, ExportWindow w, StringBuilder line) => kind switch
    {
        ExportKind.Users => UsersAsync(w, line),
        ExportKind.Sales => SalesAsync(w, line),
        ExportKind.Commissions => CommissionsAsync(w, line),
        _ => PayoutsAsync(w, line),
    };

    private async IAsyncEnumerable<bool> UsersAsync(ExportWindow w, StringBuilder line)
    {
        var q = db.Users.AsNoTracking();
        if (w.From is { } from) q = q.Where(u => u.CreatedAt >= from);
        if (w.To is { } to) q = q.Where(u => u.CreatedAt < to);
        await foreach (var u in q.OrderBy(u => u.CreatedAt).ThenBy(u => u.Id).AsAsyncEnumerable())
        {
            Csv.AppendGuid(line, u.Id); line.Append(',');
            Csv.AppendText(line, u.Platform); line.Append(',');
            Csv.AppendText(line, u.ExternalId); line.Append(',');
            Csv.AppendText(line, u.Username); line.Append(',');
            Csv.AppendText(line, u.DisplayName); line.Append(',');
            Csv.AppendText(line, u.Language); line.Append(',');
            Csv.AppendGuid(line, u.ReferrerId); line.Append(',');
            Csv.AppendText(line, u.ReferralCode); line.Append(',');
            Csv.AppendTime(line, u.CreatedAt); line.Append(',');
            Csv.AppendTime(line, u.ErasedAt);
            yield return true;
        }
    }

    private async IAsyncEnumerable<bool> SalesAsync(ExportWindow w, StringBuilder line)
    {
        var q = db.Invoices.AsNoTracking().Where(i => i.Status == InvoiceStatus.Settled && i.SettledAt != null);
        if (w.From is { } from) q = q.Where(i => i.SettledAt >= from);
        if (w.To is { } to) q = q.Where(i => i.SettledAt < to);
        await foreach (var i in q.OrderBy(i => i.SettledAt).ThenBy(i => i.Id).AsAsyncEnumerable())
        {
            Csv.AppendGuid(line, i.Id); line.Append(',');
            Csv.AppendGuid(line, i.UserId); line.Append(',');
            Csv.AppendGuid(line, i.SubscriptionId); line.Append(',');
            Csv.AppendText(line, i.PlanCode); line.Append(',');
            Csv.AppendText(line, i.Provider); line.Append(',');
            Csv.AppendText(line, i.ProviderInvoiceId); line.Append(',');
            Csv.AppendText(line, EnumNames.ToSnake(i.Method)); line.Append(',');
            Csv.AppendNumber(line, i.AmountSats); line.Append(',');
            Csv.AppendDecimal(line, i.FiatAmount); line.Append(',');
            Csv.AppendText(line, i.FiatCurrency); line.Append(',');
            Csv.AppendTime(line, i.SettledAt); line.Append(',');
            Csv.AppendTime(line, i.PeriodStart); line.Append(',');
            Csv.AppendTime(line, i.PeriodEnd);
            yield return true;
        }
    }

    private async IAsyncEnumerable<bool> CommissionsAsync(ExportWindow w, StringBuilder line)
    {
        var q = db.Commissions.AsNoTracking();
        if (w.From is { } from) q = q.Where(c => c.CreatedAt >= from);
        if (w.To is { } to) q = q.Where(c => c.CreatedAt < to);
        await foreach (var c in q.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).AsAsyncEnumerable())
        {
            Csv.AppendGuid(line, c.Id); line.Append(',');
            Csv.AppendGuid(line, c.AffiliateId); line.Append(',');
            Csv.AppendGuid(line, c.BuyerId); line.Append(',');
            Csv.AppendGuid(line, c.InvoiceId); line.Append(',');
            Csv.AppendText(line, c.PlanCode); line.Append(',');
            Csv.AppendNumber(line, c.SaleSats); line.Append(',');
            Csv.AppendNumber(line, c.RateBps); line.Append(',');
            Csv.AppendText(line, c.TierName); line.Append(',');
            Csv.AppendNumber(line, c.AmountSats); line.Append(',');
            Csv.AppendText(line, EnumNames.ToSnake(c.State)); line.Append(',');
            Csv.AppendTime(line, c.CreatedAt); line.Append(',');
            Csv.AppendTime(line, c.AvailableAt);
            yield return true;
        }
    }

    private async IAsyncEnumerable<bool> PayoutsAsync(ExportWindow w, StringBuilder line)
    {
        var q = db.Payouts.AsNoTracking();
        if (w.From is { } from) q = q.Where(p => p.RequestedAt >= from);
        if (w.To is { } to) q = q.Where(p => p.RequestedAt < to);
        await foreach (var p in q.OrderBy(p => p.RequestedAt).ThenBy(p => p.Id).AsAsyncEnumerable())
        {
            Csv.AppendGuid(line, p.Id); line.Append(',');
            Csv.AppendGuid(line, p.UserId); line.Append(',');
            Csv.AppendNumber(line, p.AmountSats); line.Append(',');
            Csv.AppendNumber(line, p.FeeSats); line.Append(',');
            Csv.AppendNumber(line, p.SentSats); line.Append(',');
            Csv.AppendText(line, p.DestinationType); line.Append(',');
            Csv.AppendText(line, p.Destination); line.Append(',');
            Csv.AppendText(line, p.Provider); line.Append(',');
            Csv.AppendText(line, EnumNames.ToSnake(p.Status)); line.Append(',');
            Csv.AppendText(line, p.PaymentHash); line.Append(',');
            Csv.AppendText(line, p.Txid); line.Append(',');
            Csv.AppendText(line, p.FailureReason); line.Append(',');
            Csv.AppendTime(line, p.RequestedAt); line.Append(',');
            Csv.AppendTime(line, p.UpdatedAt);
            yield return true;
        }
    }
}
