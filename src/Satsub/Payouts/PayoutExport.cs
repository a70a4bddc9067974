using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;

namespace Satsub.Payouts;

/// <summary>
/// The manual flow's worksheet: every approved manual payout, oldest first, as CSV (RFC 4180). <c>send_sats</c> is
/// what to send when the fee is 0; under the affiliate fee policy subtract the network fee from it, then mark the
/// payout sent with that fee.
/// </summary>
public sealed class PayoutExport(SatsubDbContext db, IOptions<PayoutOptions> options)
{
    public async Task<int> WriteCsvAsync(TextWriter writer, CancellationToken ct = default)
    {
        var payouts = await db.Payouts.AsNoTracking()
            .Where(p => p.Status == PayoutStatus.Approved && p.Provider == Providers.Manual.ManualPayoutProvider.ProviderName)
            .OrderBy(p => p.RequestedAt).ThenBy(p => p.Id)
            .ToListAsync(ct);
        await writer.WriteLineAsync("payout_id,user_id,requested_at,destination_type,destination,amount_sats,send_sats,fee_policy");
        var policy = options.Value.Fees == PayoutFeePolicy.Owner ? "owner" : "affiliate";
        foreach (var p in payouts)
        {
            await writer.WriteLineAsync(string.Join(',',
                p.Id.ToString("D"),
                p.UserId.ToString("D"),
                p.RequestedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                Escape(p.DestinationType),
                Escape(p.Destination),
                p.AmountSats.ToString(CultureInfo.InvariantCulture),
                p.AmountSats.ToString(CultureInfo.InvariantCulture),
                policy));
        }
        await writer.FlushAsync(ct);
        return payouts.Count;
    }

    // Quotes fields that need it; a leading =, +, - or @ is defused so a spreadsheet never runs it as a formula.
    private static string Escape(string value)
    {
        if (value.Length > 0 && value[0] is '=' or '+' or '-' or '@') value = "'" + value;
        return value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
