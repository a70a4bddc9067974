using Microsoft.Extensions.Options;

namespace Satsub.Payments.Providers.BtcPay;

/// <summary>
/// How many confirmations BTCPay waits for before an on-chain invoice is <c>Settled</c>
/// (BTCPay's <c>SpeedPolicy</c>: 0, 1, 2 or 6 confirmations). Lightning invoices settle at once whatever it says.
/// </summary>
public enum BtcPaySpeedPolicy
{
    HighSpeed,
    MediumSpeed,
    LowMediumSpeed,
    LowSpeed,
}

/// <summary><c>Payments:BtcPay</c>: one BTCPay Server store, reached through its Greenfield API.</summary>
public sealed class BtcPayOptions
{
    public const string Section = "Payments:BtcPay";

    /// <summary>The server's root, e.g. <c>https://btcpay.example.com/</c> (a path prefix is kept).</summary>
    public string? Url { get; set; }

    /// <summary>A Greenfield API key with <c>btcpay.store.cancreateinvoice</c> and <c>btcpay.store.canviewinvoices</c> on the store.</summary>
    public string? ApiKey { get; set; }

    public string? StoreId { get; set; }

    /// <summary>The secret of the store's webhook that points at <c>/api/v1/webhooks/btcpay</c>.</summary>
    public string? WebhookSecret { get; set; }

    /// <summary><c>HighSpeed</c>, <c>MediumSpeed</c> (the default), <c>LowMediumSpeed</c> or <c>LowSpeed</c>.</summary>
    public string SpeedPolicy { get; set; } = nameof(BtcPaySpeedPolicy.MediumSpeed);

    /// <summary>How long one call to BTCPay may take before the provider is reported unavailable.</summary>
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary>The policy's name as BTCPay spells it (the setting is read without regard to case).</summary>
    internal string SpeedPolicyName => TryParseSpeedPolicy(SpeedPolicy, out var policy)
        ? policy.ToString()
        : throw new InvalidOperationException($"Payments:BtcPay:SpeedPolicy '{SpeedPolicy}' is not valid.");

    internal static bool TryParseSpeedPolicy(string? text, out BtcPaySpeedPolicy policy)
    {
        foreach (var candidate in Enum.GetValues<BtcPaySpeedPolicy>())
        {
            if (string.Equals(candidate.ToString(), text?.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                policy = candidate;
                return true;
            }
        }
        policy = default;
        return false;
    }

    /// <summary>The root with a trailing slash, so relative paths keep a prefix such as <c>/btcpay/</c>.</summary>
    internal Uri BaseUri => new(Url!.EndsWith('/') ? Url : Url + "/", UriKind.Absolute);
}

internal sealed class BtcPayOptionsValidator : IValidateOptions<BtcPayOptions>
{
    public ValidateOptionsResult Validate(string? name, BtcPayOptions o)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(o.Url))
            failures.Add("Payments:BtcPay:Url is not set: give the root address of your BTCPay Server (https://btcpay.example.com).");
        else if (!Uri.TryCreate(o.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp)
            || !string.IsNullOrEmpty(url.Query) || !string.IsNullOrEmpty(url.Fragment))
            failures.Add("Payments:BtcPay:Url must be an absolute https address without query or fragment (https://btcpay.example.com).");
        else if (url.Scheme == Uri.UriSchemeHttp && !url.IsLoopback)
            // The API key travels in every request.
            failures.Add("Payments:BtcPay:Url must use https: plain http is allowed only on the loopback (localhost, 127.0.0.1, [::1]).");
        else if (!string.IsNullOrEmpty(url.UserInfo))
            // The address is logged with every request; the key belongs in ApiKey.
            failures.Add("Payments:BtcPay:Url must not contain a user name or password: put the Greenfield API key in Payments:BtcPay:ApiKey.");
        if (string.IsNullOrWhiteSpace(o.ApiKey))
            failures.Add("Payments:BtcPay:ApiKey is not set: create a Greenfield API key with the permissions btcpay.store.cancreateinvoice and btcpay.store.canviewinvoices.");
        if (string.IsNullOrWhiteSpace(o.StoreId))
            failures.Add("Payments:BtcPay:StoreId is not set: copy the store's id from its settings page in BTCPay Server.");
        else if (o.StoreId.Any(c => !char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_'))
            failures.Add("Payments:BtcPay:StoreId must be the store's id as BTCPay shows it (letters and digits).");
        if (string.IsNullOrWhiteSpace(o.WebhookSecret))
            failures.Add("Payments:BtcPay:WebhookSecret is not set: give the secret of the store's webhook that points at /api/v1/webhooks/btcpay (every notification is checked against it).");
        if (!BtcPayOptions.TryParseSpeedPolicy(o.SpeedPolicy, out _))
            failures.Add($"Payments:BtcPay:SpeedPolicy must be HighSpeed (0 confirmations), MediumSpeed (1), LowMediumSpeed (2) or LowSpeed (6) (was '{o.SpeedPolicy}').");
        if (o.TimeoutSeconds is < 1 or > 300)
            failures.Add($"Payments:BtcPay:TimeoutSeconds must be between 1 and 300 (was {o.TimeoutSeconds}).");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
