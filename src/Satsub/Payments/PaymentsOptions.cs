using Microsoft.Extensions.Options;

namespace Satsub.Payments;

public sealed class PaymentsOptions
{
    public const string Section = "Payments";

    /// <summary><c>sandbox</c> (Development only), <c>btcpay</c>, <c>lnd</c>, <c>bitpay</c> or <c>opennode</c>. No default in Production.</summary>
    public string? Provider { get; set; }

    /// <summary>Optional per-method overrides: <c>Payments:Lightning:Provider</c>, <c>Payments:OnChain:Provider</c>.</summary>
    public MethodOverride Lightning { get; set; } = new();

    public MethodOverride OnChain { get; set; } = new();

    /// <summary>How long a buyer has to pay an invoice.</summary>
    public int InvoiceExpiryMinutes { get; set; } = 30;

    /// <summary>How often open invoices are re-read from their provider, to catch lost webhooks.</summary>
    public int ReconcileIntervalSeconds { get; set; } = 300;

    public sealed class MethodOverride
    {
        public string? Provider { get; set; }
    }

    public string? ProviderFor(PaymentMethod method) => Normalize(method switch
    {
        PaymentMethod.Lightning => Lightning.Provider ?? Provider,
        _ => OnChain.Provider ?? Provider,
    });

    /// <summary>Every provider this configuration uses.</summary>
    public IEnumerable<string> SelectedProviders() =>
        new[] { Normalize(Provider), Normalize(Lightning.Provider), Normalize(OnChain.Provider) }
            .OfType<string>().Distinct(StringComparer.Ordinal);

    internal static string? Normalize(string? name) => string.IsNullOrWhiteSpace(name) ? null : name.Trim().ToLowerInvariant();
}

internal sealed class PaymentsOptionsValidator(IHostEnvironment environment) : IValidateOptions<PaymentsOptions>
{
    public ValidateOptionsResult Validate(string? name, PaymentsOptions o)
    {
        var failures = new List<string>();
        if (PaymentsOptions.Normalize(o.Provider) is null && (PaymentsOptions.Normalize(o.Lightning.Provider) is null || PaymentsOptions.Normalize(o.OnChain.Provider) is null))
            failures.Add("Payments:Provider is not set: set it to the payment provider you use (" + string.Join(", ", PaymentsModule.RealProviders) +
                "); 'sandbox' is a development mode and is refused in Production.");
        foreach (var (key, value) in new[] { ("Payments:Provider", o.Provider), ("Payments:Lightning:Provider", o.Lightning.Provider), ("Payments:OnChain:Provider", o.OnChain.Provider) })
        {
            var provider = PaymentsOptions.Normalize(value);
            if (provider is null) continue;
            if (provider == SandboxPaymentProvider.ProviderName && environment.IsProduction())
                failures.Add($"{key} is 'sandbox', a development mode that settles invoices without payment: it is refused in Production. Choose one of {string.Join(", ", PaymentsModule.RealProviders)}.");
            else if (!PaymentsModule.Providers.ContainsKey(provider))
                failures.Add($"{key} must be one of sandbox, {string.Join(", ", PaymentsModule.RealProviders)} (was '{value}').");
        }
        if (o.InvoiceExpiryMinutes is < 1 or > 7 * 24 * 60)
            failures.Add($"Payments:InvoiceExpiryMinutes must be between 1 and 10080 (was {o.InvoiceExpiryMinutes}).");
        if (o.ReconcileIntervalSeconds is < 5 or > 86_400)
            failures.Add($"Payments:ReconcileIntervalSeconds must be between 5 and 86400 (was {o.ReconcileIntervalSeconds}).");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
