using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Satsub.Plans;

/// <summary>
/// <c>Plans:&lt;code&gt;</c>: the plans defined in configuration. They are applied at every start and win
/// over edits through the admin API for the plans they name; other plans live only in the database.
/// </summary>
public sealed class PlansOptions : Dictionary<string, PlanDefinition>
{
    public const string Section = "Plans";

    public PlansOptions() : base(StringComparer.Ordinal) { }
}

public sealed class PlanDefinition
{
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    public long? PriceSats { get; set; }
    /// <summary>A fiat price (with <see cref="FiatCurrency"/>), converted to sats once, at invoice time.</summary>
    public decimal? FiatPrice { get; set; }
    public string? FiatCurrency { get; set; }
    public int DurationDays { get; set; }
    /// <summary>Telegram chat ids (or @usernames) the plan grants access to.</summary>
    public List<string> Chats { get; set; } = [];
    public bool Active { get; set; } = true;
    /// <summary>Whether the bot removes lapsed subscribers from <see cref="Chats"/> after the grace period.</summary>
    public bool RemoveAtExpiry { get; set; } = true;
}

internal sealed partial class PlansOptionsValidator : IValidateOptions<PlansOptions>
{
    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,31}$")]
    public static partial Regex CodePattern();

    [GeneratedRegex("^[A-Z]{3}$")]
    private static partial Regex CurrencyPattern();

    public ValidateOptionsResult Validate(string? name, PlansOptions plans)
    {
        var failures = new List<string>();
        foreach (var (code, p) in plans)
        {
            var key = $"Plans:{code}";
            if (!CodePattern().IsMatch(code)) failures.Add($"{key}: a plan code is 1-32 characters of a-z, 0-9, '_' and '-'.");
            if (string.IsNullOrWhiteSpace(p.Name)) failures.Add($"{key}:Name is required.");
            if (p.DurationDays is < 1 or > 3660) failures.Add($"{key}:DurationDays must be between 1 and 3660 (was {p.DurationDays}).");
            var hasSats = p.PriceSats is not null;
            var hasFiat = p.FiatPrice is not null || p.FiatCurrency is not null;
            if (hasSats == hasFiat) failures.Add($"{key} needs exactly one price: PriceSats, or FiatPrice with FiatCurrency.");
            if (p.PriceSats is { } sats && sats is <= 0 or > Common.Sats.MaxMoney) failures.Add($"{key}:PriceSats must be a positive number of sats (was {sats}).");
            if (hasFiat && (p.FiatPrice is not > 0 || p.FiatCurrency is null || !CurrencyPattern().IsMatch(p.FiatCurrency)))
                failures.Add($"{key}: FiatPrice must be positive and FiatCurrency a three-letter ISO code such as USD.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
