using Satsub.Common;

namespace Satsub.Ledger;

/// <summary>How one sale divides between the owner and the buyer's direct referrer.</summary>
public readonly record struct SaleSplit(Sats Sale, Sats Owner, Sats Affiliate, int RateBps);

public static class Split
{
    /// <summary>
    /// The direct referrer gets <c>floor(sale × rate / 10000)</c> and the owner the rest, so the two always
    /// add up to the sale and any remainder goes to the owner. Without a referrer the owner takes it all.
    /// </summary>
    public static SaleSplit Of(Sats sale, int? affiliateRateBps)
    {
        if (!sale.IsValidPayment) throw new ArgumentOutOfRangeException(nameof(sale), sale, "A sale is a positive amount of at most 21M BTC.");
        if (affiliateRateBps is null) return new SaleSplit(sale, sale, Sats.Zero, 0);
        var affiliate = sale.BasisPoints(affiliateRateBps.Value);
        return new SaleSplit(sale, sale - affiliate, affiliate, affiliateRateBps.Value);
    }
}
