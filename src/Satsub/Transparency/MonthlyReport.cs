using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Satsub.Transparency;

/// <summary>
/// One line of a monthly report: a sale, a refund, a payout, or (should a future posting kind move public money) an
/// adjustment. The share columns are the ledger's own movements, so for every row
/// <c>amount = owner_share + affiliate_share</c> (sales, refunds) or <c>owner_share + affiliate_share + amount + fee = 0</c> (payouts).
/// </summary>
/// <param name="OwnerShareSats">The change of <c>owner_revenue</c>.</param>
/// <param name="AffiliateShareSats">The change of what affiliates are owed (pending, available and payouts in flight).</param>
/// <param name="AmountSats">Sales and refunds: what the customer paid (negative for a refund). Payouts: what reached the affiliate.</param>
/// <param name="FeeSats">Payouts: the network or routing fee.</param>
public sealed record ReportRow(
    string Type,
    DateTimeOffset Time,
    Guid PostingId,
    string? Plan,
    long AmountSats,
    long OwnerShareSats,
    long AffiliateShareSats,
    long FeeSats,
    string? Affiliate,
    string? PaymentHash,
    string? Txid)
{
    public const string Sale = "sale";
    public const string Refund = "refund";
    public const string Payout = "payout";
    public const string Adjustment = "adjustment";
}

/// <summary>A month's totals: sums of the rows, which equal the ledger's movements in the month.</summary>
public sealed record ReportTotals(
    int SalesCount,
    long SalesSats,
    int RefundsCount,
    long RefundsSats,
    long OwnerShareSats,
    long CommissionsAccruedSats,
    int PayoutsCount,
    long PayoutsSats,
    long PayoutFeesSats,
    long AffiliateBalanceChangeSats)
{
    public static ReportTotals Of(IEnumerable<ReportRow> rows)
    {
        var totals = new ReportTotalsBuilder();
        foreach (var r in rows) totals.Add(r);
        return totals.Build();
    }
}

/// <summary>Adds rows up one at a time (a month is never held whole), to the same <see cref="ReportTotals"/> as the sums of all rows.</summary>
public sealed class ReportTotalsBuilder
{
    private int sales, refunds, payouts;
    private long salesSats, refundsSats, owner, accrued, payoutsSats, fees, affiliate;

    public long Rows { get; private set; }

    public void Add(ReportRow r)
    {
        Rows++;
        switch (r.Type)
        {
            case ReportRow.Sale: sales++; salesSats += r.AmountSats; accrued += r.AffiliateShareSats; break;
            case ReportRow.Refund: refunds++; refundsSats -= r.AmountSats; accrued += r.AffiliateShareSats; break;
            case ReportRow.Payout: payouts++; payoutsSats += r.AmountSats; break;
            default: break;
        }
        owner += r.OwnerShareSats;
        fees += r.FeeSats;
        affiliate += r.AffiliateShareSats;
    }

    public ReportTotals Build() => new(sales, salesSats, refunds, refundsSats, owner, accrued, payouts, payoutsSats, fees, affiliate);
}

/// <summary>
/// The canonical form of a report is its CSV, byte for byte (docs/transparency.md):
/// UTF-8 without a byte-order mark; the header line <see cref="Header"/>; one line per row ordered by time, then posting
/// id; every line (the last one too) ends with a single LF; amounts are base-10 integers with a leading <c>-</c> when
/// negative; times are UTC as <c>yyyy-MM-ddTHH:mm:ss.ffffffZ</c>; ids are lower-case with hyphens; an absent value is an
/// empty field. No field can contain a comma, a quote or a line break (they are refused when the report is written).
/// The report's digest is the SHA-256 of those bytes; the signed message is <c>Satsub report {yyyy-MM} sha256:{hex}</c>.
/// </summary>
public static class ReportCsv
{
    public const string Header = "type,time,posting_id,plan,amount_sats,owner_share_sats,affiliate_share_sats,fee_sats,affiliate,payment_hash,txid";
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    /// <summary>The whole CSV of rows given in any order (small reports and tests; closing streams through <see cref="AppendLine"/>).</summary>
    public static string Write(IEnumerable<ReportRow> rows)
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var r in rows.OrderBy(r => r.Time).ThenBy(r => r.PostingId.ToString("D"), StringComparer.Ordinal)) AppendLine(sb, r);
        return sb.ToString();
    }

    /// <summary>Appends one row's line, LF included. Rows must come in canonical order.</summary>
    public static void AppendLine(StringBuilder sb, ReportRow r) =>
        sb.Append(Field(r.Type)).Append(',')
          .Append(r.Time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture)).Append(',')
          .Append(r.PostingId.ToString("D")).Append(',')
          .Append(Field(r.Plan)).Append(',')
          .Append(Number(r.AmountSats)).Append(',')
          .Append(Number(r.OwnerShareSats)).Append(',')
          .Append(Number(r.AffiliateShareSats)).Append(',')
          .Append(Number(r.FeeSats)).Append(',')
          .Append(Field(r.Affiliate)).Append(',')
          .Append(Field(r.PaymentHash)).Append(',')
          .Append(Field(r.Txid)).Append('\n');

    public static List<ReportRow> Read(string csv)
    {
        var lines = csv.Split('\n');
        if (lines.Length < 2 || lines[0] != Header || lines[^1].Length != 0)
            throw new FormatException("Not a canonical Satsub report.");
        var rows = new List<ReportRow>(lines.Length - 2);
        foreach (var line in lines.AsSpan(1, lines.Length - 2)) rows.Add(ParseLine(line));
        return rows;
    }

    /// <summary>
    /// The rows of a report given as consecutive pieces of its text (split anywhere), parsed as they come: only one line
    /// is held at a time beyond the current piece.
    /// </summary>
    public static async IAsyncEnumerable<ReportRow> ReadAsync(IAsyncEnumerable<string> pieces,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        var carry = new StringBuilder();
        var header = true;
        await foreach (var piece in pieces.WithCancellation(ct))
        {
            var start = 0;
            for (var lf = piece.IndexOf('\n'); lf >= 0; lf = piece.IndexOf('\n', start))
            {
                string line;
                if (carry.Length > 0)
                {
                    line = carry.Append(piece, start, lf - start).ToString();
                    carry.Clear();
                }
                else
                {
                    line = piece[start..lf];
                }
                start = lf + 1;
                if (header)
                {
                    if (line != Header) throw new FormatException("Not a canonical Satsub report.");
                    header = false;
                    continue;
                }
                yield return ParseLine(line);
            }
            carry.Append(piece, start, piece.Length - start);
        }
        if (header || carry.Length > 0) throw new FormatException("Not a canonical Satsub report.");
    }

    private static ReportRow ParseLine(string line)
    {
        var f = line.Split(',');
        if (f.Length != 11) throw new FormatException("A report line has 11 fields.");
        return new ReportRow(f[0],
            DateTimeOffset.ParseExact(f[1], TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
            Guid.ParseExact(f[2], "D"), Null(f[3]),
            long.Parse(f[4], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
            long.Parse(f[5], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
            long.Parse(f[6], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
            long.Parse(f[7], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
            Null(f[8]), Null(f[9]), Null(f[10]));
    }

    public static string Sha256Hex(string csv) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(csv)));

    public static string SignedMessage(string month, string sha256Hex) => $"Satsub report {month} sha256:{sha256Hex}";

    private static string Number(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string? Null(string s) => s.Length == 0 ? null : s;

    private static string Field(string? s)
    {
        if (s is null) return "";
        if (s.AsSpan().IndexOfAny(",\"\r\n") >= 0) throw new InvalidOperationException($"A report field cannot contain a comma, a quote or a line break: '{s}'.");
        return s;
    }
}
