using Microsoft.Extensions.Options;

namespace Satsub.Payments;

public sealed class PaymentsOptions
{
    public const string Section = "Payments";

    /// <summary><c>sandbox</c> (Development only), <c>btcpay</c>, <c>lnd</c>, <c>bitpay</c> or <c>opennode</c>. No default in Production.</summary>
    public string? Provider { get; set; }

    /// <summary>How long a buyer has to pay an invoice.</summary>
    public int InvoiceExpiryMinutes { get; set; } = 30;
}

internal sealed class PaymentsOptionsValidator(IHostEnvironment environment) : IValidateOptions<PaymentsOptions>
{
    public static readonly string[] Planned = ["btcpay", "lnd", "bitpay", "opennode"];

    public ValidateOptionsResult Validate(string? name, PaymentsOptions o)
    {
        var failures = new List<string>();
        var provider = o.Provider?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(provider))
            failures.Add("Payments:Provider is not set: set it to the payment provider you use (btcpay, lnd, bitpay, opennode); 'sandbox' is a development mode and is refused in Production.");
        else if (provider == SandboxPaymentProvider.ProviderName && environment.IsProduction())
            failures.Add("Payments:Provider is 'sandbox', a development mode that settles invoices without payment: it is refused in Production. Choose btcpay, lnd, bitpay or opennode.");
        else if (Planned.Contains(provider))
            failures.Add($"Payments:Provider '{provider}' is not available in this build yet; the sandbox is the only provider so far.");
        else if (provider != SandboxPaymentProvider.ProviderName)
            failures.Add($"Payments:Provider must be one of sandbox, btcpay, lnd, bitpay, opennode (was '{o.Provider}').");
        if (o.InvoiceExpiryMinutes is < 1 or > 7 * 24 * 60)
            failures.Add($"Payments:InvoiceExpiryMinutes must be between 1 and 10080 (was {o.InvoiceExpiryMinutes}).");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
