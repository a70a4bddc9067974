using Microsoft.Extensions.Options;

namespace Satsub.Affiliates.Rating;

/// <summary>
/// The rating's weights (<c>Affiliate:Rating</c>). Everything it counts comes from real sales: distinct paying referred
/// customers, referred sales and renewals by referred customers. Sign-ups count for nothing.
/// </summary>
public sealed class RatingOptions
{
    public const string Section = "Affiliate:Rating";
    public const int MaxWeight = 1000;

    /// <summary>Points per distinct paying referred customer.</summary>
    public int PayingCustomers { get; set; } = 100;

    /// <summary>Points per 100,000 sats of referred sales (rounded down).</summary>
    public int ReferredSalesPer100kSats { get; set; } = 10;

    /// <summary>Points per renewal: each purchase by a referred customer after their first.</summary>
    public int Renewals { get; set; } = 20;
}

internal sealed class RatingOptionsValidator : IValidateOptions<RatingOptions>
{
    public ValidateOptionsResult Validate(string? name, RatingOptions o)
    {
        var failures = new List<string>();
        Check(failures, nameof(o.PayingCustomers), o.PayingCustomers);
        Check(failures, nameof(o.ReferredSalesPer100kSats), o.ReferredSalesPer100kSats);
        Check(failures, nameof(o.Renewals), o.Renewals);
        if (failures.Count == 0 && o.PayingCustomers + o.ReferredSalesPer100kSats + o.Renewals == 0)
            failures.Add($"{RatingOptions.Section}: at least one weight must be positive.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Check(List<string> failures, string key, int weight)
    {
        // The bound keeps the score's arithmetic inside a 64-bit integer in SQL for any real sales total.
        if (weight is < 0 or > RatingOptions.MaxWeight)
            failures.Add($"{RatingOptions.Section}:{key} must be between 0 and {RatingOptions.MaxWeight} (was {weight}).");
    }
}
