using Microsoft.Extensions.Options;

namespace Satsub.Affiliates;

/// <summary>The commission rules (SPEC.md, "Commission rule"). They are published on the transparency page.</summary>
public sealed class AffiliateOptions
{
    public const string Section = "Affiliate";

    /// <summary>The direct referrer's share of each sale, in basis points (5000 = 50%).</summary>
    public int BaseBps { get; set; } = 5000;

    /// <summary>Days a commission stays pending before it can be withdrawn; refunds inside it reverse it.</summary>
    public int HoldDays { get; set; } = 7;

    /// <summary>Bonus tiers, none by default. Bonuses come out of the owner's share.</summary>
    public List<AffiliateTier> Tiers { get; set; } = [];

    /// <summary>
    /// Hold the commission for the admin's review when buyer and referrer share a Telegram id, a payout destination or
    /// a paying wallet (fraud guard). True by default.
    /// </summary>
    public bool HoldSharedIdentity { get; set; } = true;

    /// <summary>Distinct paying referred customers an affiliate needs before their first payout (0: no minimum).</summary>
    public int MinPayingReferralsForPayout { get; set; }

    /// <summary>An affiliate whose referred sales are refunded at more than this rate (basis points) is flagged…</summary>
    public int RefundRateFlagBps { get; set; } = 3_000;

    /// <summary>…once they have at least this many referred sales (fewer say nothing about a rate).</summary>
    public int RefundRateMinSales { get; set; } = 10;

    /// <summary>
    /// Registrations per referral code per minute beyond which new users are registered without the referrer and the
    /// code is flagged. Never below 60, so that a real launch is not blocked.
    /// </summary>
    public int MaxRegistrationsPerMinutePerCode { get; set; } = 120;
}

public sealed class AffiliateTier
{
    public string Name { get; set; } = "";
    /// <summary>Reached with at least this many distinct paying referred customers…</summary>
    public int? MinPayingCustomers { get; set; }
    /// <summary>…or at least this many sats of referred sales.</summary>
    public long? MinReferredSalesSats { get; set; }
    public int BonusBps { get; set; }
}

internal sealed class AffiliateOptionsValidator : IValidateOptions<AffiliateOptions>
{
    public ValidateOptionsResult Validate(string? name, AffiliateOptions o)
    {
        var failures = new List<string>();
        if (o.BaseBps is < 0 or > 10_000)
            failures.Add($"Affiliate:BaseBps must be between 0 and 10000 (was {o.BaseBps}).");
        if (o.HoldDays is < 0 or > 365)
            failures.Add($"Affiliate:HoldDays must be between 0 and 365 (was {o.HoldDays}).");
        if (o.MinPayingReferralsForPayout is < 0 or > 1_000_000)
            failures.Add($"Affiliate:MinPayingReferralsForPayout must be between 0 and 1000000 (was {o.MinPayingReferralsForPayout}).");
        if (o.RefundRateFlagBps is < 1 or > 10_000)
            failures.Add($"Affiliate:RefundRateFlagBps must be between 1 and 10000 (was {o.RefundRateFlagBps}).");
        if (o.RefundRateMinSales < 1)
            failures.Add($"Affiliate:RefundRateMinSales must be at least 1 (was {o.RefundRateMinSales}).");
        if (o.MaxRegistrationsPerMinutePerCode < 60)
            failures.Add($"Affiliate:MaxRegistrationsPerMinutePerCode must be at least 60, so a real launch is not blocked (was {o.MaxRegistrationsPerMinutePerCode}).");
        for (var i = 0; i < o.Tiers.Count; i++)
        {
            var t = o.Tiers[i];
            var key = $"Affiliate:Tiers:{i}";
            if (string.IsNullOrWhiteSpace(t.Name)) failures.Add($"{key}:Name is required.");
            if (t.MinPayingCustomers is null == t.MinReferredSalesSats is null)
                failures.Add($"{key} needs exactly one threshold: MinPayingCustomers or MinReferredSalesSats.");
            if (t.MinPayingCustomers is < 1 || t.MinReferredSalesSats is < 1)
                failures.Add($"{key}: a threshold must be positive.");
            if (t.BonusBps < 0) failures.Add($"{key}:BonusBps must not be negative (was {t.BonusBps}).");
            if ((long)o.BaseBps + t.BonusBps > 10_000)
                failures.Add($"{key}:BonusBps {t.BonusBps} plus Affiliate:BaseBps {o.BaseBps} exceeds 10000: an affiliate's rate can never exceed the sale.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
