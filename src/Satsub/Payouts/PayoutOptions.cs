using System.Globalization;
using Microsoft.Extensions.Options;

namespace Satsub.Payouts;

/// <summary>Who bears a payout's network fee.</summary>
public enum PayoutFeePolicy
{
    /// <summary>The fee comes out of the payout: the destination receives the amount minus the fee.</summary>
    Affiliate,

    /// <summary>The destination receives the whole amount; the owner's revenue pays the fee.</summary>
    Owner,
}

/// <summary><c>Payouts</c>: how affiliates' commissions leave Satsub.</summary>
public sealed class PayoutOptions
{
    public const string Section = "Payouts";

    /// <summary><c>sandbox</c> (the default in Development, refused in Production), <c>manual</c> (the default elsewhere), <c>lnd</c> or <c>btcpay</c>.</summary>
    public string? Provider { get; set; }

    /// <summary>The smallest Lightning payout (Lightning Address or BOLT11).</summary>
    public long MinSats { get; set; } = 1_000;

    /// <summary>The smallest on-chain payout: below it the network fee eats too much of it.</summary>
    public long MinOnchainSats { get; set; } = 10_000;

    /// <summary>Payouts up to this amount are approved automatically; larger ones wait for the admin. 0: the admin approves every payout.</summary>
    public long AutoApproveMaxSats { get; set; } = 100_000;

    /// <summary>The most all affiliates together may request per UTC day: the hot wallet's exposure.</summary>
    public long DailyCapSats { get; set; } = 5_000_000;

    /// <summary><c>affiliate</c> (default) or <c>owner</c>.</summary>
    public string FeePolicy { get; set; } = "affiliate";

    /// <summary>A payout still <c>sending</c> after this long is reconciled with its provider (a crash or a time-out).</summary>
    public int ReconcileAfterSeconds { get; set; } = 120;

    /// <summary>How often the worker looks for approved payouts.</summary>
    public int IntervalSeconds { get; set; } = 5;

    /// <summary><c>off</c> (default), <c>daily</c> or <c>weekly</c>: pay every affiliate's available balance to their saved destination once per period.</summary>
    public string Schedule { get; set; } = "off";

    /// <summary>Scheduled payouts skip balances below this (and below <see cref="MinSats"/> or the destination's minimum).</summary>
    public long ScheduleMinSats { get; set; } = 10_000;

    public PayoutLndOptions Lnd { get; set; } = new();

    public Providers.BtcPay.PayoutBtcPayOptions BtcPay { get; set; } = new();

    public PayoutFeePolicy Fees => string.Equals(FeePolicy, "owner", StringComparison.OrdinalIgnoreCase) ? PayoutFeePolicy.Owner : PayoutFeePolicy.Affiliate;

    internal static string? Normalize(string? name) => string.IsNullOrWhiteSpace(name) ? null : name.Trim().ToLowerInvariant();
}

/// <summary><c>Payouts:Lnd</c>: the node that pays (it needs a macaroon allowed to send: <c>admin.macaroon</c> or a baked one with <c>offchain:write</c>).</summary>
public sealed class PayoutLndOptions
{
    public string? Url { get; set; }
    public string? MacaroonHex { get; set; }
    public string? MacaroonPath { get; set; }

    /// <summary>The SHA-256 fingerprint of the node's <c>tls.cert</c> (required over https).</summary>
    public string? TlsCertThumbprint { get; set; }

    /// <summary>The most routing fee one payout may cost.</summary>
    public long FeeLimitSats { get; set; } = 100;

    /// <summary>How long to wait for a payment's final state before leaving it in flight for reconciliation.</summary>
    public int TimeoutSeconds { get; set; } = 60;
}

internal sealed class PayoutOptionsValidator(IHostEnvironment environment) : IValidateOptions<PayoutOptions>
{
    public ValidateOptionsResult Validate(string? name, PayoutOptions o)
    {
        var failures = new List<string>();
        var provider = PayoutOptions.Normalize(o.Provider);
        if (provider is null || !PayoutsModule.ProviderNames.Contains(provider))
            failures.Add($"Payouts:Provider must be one of {string.Join(", ", PayoutsModule.ProviderNames)} (was '{o.Provider}').");
        else if (provider == Providers.Sandbox.SandboxPayoutProvider.ProviderName && environment.IsProduction())
            failures.Add("Payouts:Provider is 'sandbox', a development mode that pays nobody: it is refused in Production. Choose 'manual', 'lnd' or 'btcpay'.");
        if (o.MinSats < 1)
            failures.Add(Invariant($"Payouts:MinSats must be at least 1 (was {o.MinSats})."));
        if (o.MinOnchainSats < 546)
            failures.Add(Invariant($"Payouts:MinOnchainSats must be at least 546, the dust limit (was {o.MinOnchainSats})."));
        if (o.AutoApproveMaxSats < 0)
            failures.Add(Invariant($"Payouts:AutoApproveMaxSats must be 0 or more (was {o.AutoApproveMaxSats})."));
        if (o.DailyCapSats < 1)
            failures.Add(Invariant($"Payouts:DailyCapSats must be at least 1 (was {o.DailyCapSats})."));
        if (!string.Equals(o.FeePolicy, "affiliate", StringComparison.OrdinalIgnoreCase) && !string.Equals(o.FeePolicy, "owner", StringComparison.OrdinalIgnoreCase))
            failures.Add($"Payouts:FeePolicy must be 'affiliate' or 'owner' (was '{o.FeePolicy}').");
        if (PayoutOptions.Normalize(o.Schedule) is not ("off" or "daily" or "weekly"))
            failures.Add($"Payouts:Schedule must be off, daily or weekly (was '{o.Schedule}').");
        if (o.ScheduleMinSats < 1)
            failures.Add(Invariant($"Payouts:ScheduleMinSats must be at least 1 (was {o.ScheduleMinSats})."));
        if (o.ReconcileAfterSeconds is < 1 or > 86_400)
            failures.Add(Invariant($"Payouts:ReconcileAfterSeconds must be between 1 and 86400 (was {o.ReconcileAfterSeconds})."));
        if (o.IntervalSeconds is < 1 or > 3_600)
            failures.Add(Invariant($"Payouts:IntervalSeconds must be between 1 and 3600 (was {o.IntervalSeconds})."));
        if (provider == Providers.Lnd.LndPayoutProvider.ProviderName)
        {
            ValidateLnd(o.Lnd, failures);
            // A payout still being sent by a live worker must not look stuck to another instance.
            if (o.ReconcileAfterSeconds <= o.Lnd.TimeoutSeconds + 5)
                failures.Add(Invariant($"Payouts:ReconcileAfterSeconds ({o.ReconcileAfterSeconds}) must be more than Payouts:Lnd:TimeoutSeconds + 5 ({o.Lnd.TimeoutSeconds + 5}), so a payment still being sent is never reconciled early."));
        }
        if (provider == Providers.BtcPay.BtcPayPayoutProvider.ProviderName)
            ValidateBtcPay(o.BtcPay, failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateBtcPay(Providers.BtcPay.PayoutBtcPayOptions o, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(o.Url) || !Uri.TryCreate(o.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            failures.Add("Payouts:BtcPay:Url is required for the btcpay payout provider: the server's address, e.g. https://btcpay.example.com.");
        else if (!string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(url.Query))
            failures.Add("Payouts:BtcPay:Url must not carry credentials or a query.");
        else if (url.Scheme == Uri.UriSchemeHttp && !url.IsLoopback)
            failures.Add("Payouts:BtcPay:Url must use https: plain http is allowed only on loopback.");
        if (string.IsNullOrWhiteSpace(o.ApiKey))
            failures.Add("Payouts:BtcPay:ApiKey is required for the btcpay payout provider (a Greenfield key with btcpay.store.cancreatepullpayments and btcpay.store.canmanagepullpayments).");
        if (string.IsNullOrWhiteSpace(o.StoreId))
            failures.Add("Payouts:BtcPay:StoreId is required for the btcpay payout provider.");
        if (o.TimeoutSeconds is < 1 or > 300)
            failures.Add(Invariant($"Payouts:BtcPay:TimeoutSeconds must be between 1 and 300 (was {o.TimeoutSeconds})."));
        if (string.IsNullOrWhiteSpace(o.OnchainPayoutMethodId) || string.IsNullOrWhiteSpace(o.LightningPayoutMethodId))
            failures.Add("Payouts:BtcPay:OnchainPayoutMethodId and LightningPayoutMethodId must not be empty.");
    }

    private static void ValidateLnd(PayoutLndOptions o, List<string> failures)
    {
        if (string.IsNullOrWhiteSpace(o.Url) || !Uri.TryCreate(o.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            failures.Add("Payouts:Lnd:Url is required for the lnd payout provider: LND's REST address, e.g. https://127.0.0.1:8080.");
        else if (!string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(url.Query))
            failures.Add("Payouts:Lnd:Url must not carry credentials or a query.");
        else if (url.Scheme == Uri.UriSchemeHttp && !url.IsLoopback)
            failures.Add("Payouts:Lnd:Url must use https: plain http is allowed only on loopback.");
        else if (url.Scheme == Uri.UriSchemeHttps && string.IsNullOrWhiteSpace(o.TlsCertThumbprint))
            failures.Add("Payouts:Lnd:TlsCertThumbprint is required for an https Url: LND's certificate is self-signed, so Satsub pins it.");
        if (!string.IsNullOrWhiteSpace(o.TlsCertThumbprint) && Payments.Providers.Lnd.LndTls.ParseThumbprint(o.TlsCertThumbprint) is null)
            failures.Add("Payouts:Lnd:TlsCertThumbprint must be the certificate's SHA-256 fingerprint: 64 hex digits (colons allowed).");

        var hasHex = !string.IsNullOrWhiteSpace(o.MacaroonHex);
        var hasPath = !string.IsNullOrWhiteSpace(o.MacaroonPath);
        if (hasHex == hasPath)
            failures.Add("Payouts:Lnd:MacaroonHex or Payouts:Lnd:MacaroonPath is required for the lnd payout provider: set exactly one (a macaroon allowed to send payments).");
        else if (hasHex && !(o.MacaroonHex!.Trim().Length % 2 == 0 && o.MacaroonHex.Trim().All(Uri.IsHexDigit)))
            failures.Add("Payouts:Lnd:MacaroonHex must be the macaroon in hexadecimal.");
        else if (hasPath && !File.Exists(o.MacaroonPath))
            failures.Add($"Payouts:Lnd:MacaroonPath: the file '{o.MacaroonPath}' does not exist or cannot be read.");
        if (o.FeeLimitSats is < 0 or > 1_000_000)
            failures.Add(Invariant($"Payouts:Lnd:FeeLimitSats must be between 0 and 1000000 (was {o.FeeLimitSats})."));
        if (o.TimeoutSeconds is < 1 or > 600)
            failures.Add(Invariant($"Payouts:Lnd:TimeoutSeconds must be between 1 and 600 (was {o.TimeoutSeconds})."));
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
