using Microsoft.Extensions.Options;

namespace Satsub.Payouts.LightningAddress;

/// <summary><c>Payouts:LightningAddress</c>: how Satsub talks to the LNURL services behind affiliates' Lightning Addresses.</summary>
public sealed class LightningAddressOptions
{
    public const string Section = "Payouts:LightningAddress";

    /// <summary>Let Lightning Addresses resolve to private, loopback and link-local addresses (a lab or a test; never on a public server).</summary>
    public bool AllowPrivateTargets { get; set; }

    /// <summary>Time allowed for each request (the address's document, then the invoice), connection included.</summary>
    public int TimeoutSeconds { get; set; } = 10;
}

internal sealed class LightningAddressOptionsValidator : IValidateOptions<LightningAddressOptions>
{
    public ValidateOptionsResult Validate(string? name, LightningAddressOptions options) =>
        options.TimeoutSeconds is >= 1 and <= 120
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{LightningAddressOptions.Section}:TimeoutSeconds must be between 1 and 120 (was {options.TimeoutSeconds}).");
}
