using Microsoft.Extensions.Options;

namespace Satsub.Payments;

public static class PaymentsModule
{
    /// <summary>
    /// Every provider Satsub can use, by name, with how to register it. A provider is registered only when the
    /// configuration selects it, so only its settings are required. Each registers a keyed
    /// <see cref="IPaymentProvider"/> (and, if it receives webhooks, a keyed <see cref="IWebhookAuthenticator"/>).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, Action<IHostApplicationBuilder>> Providers =
        new Dictionary<string, Action<IHostApplicationBuilder>>(StringComparer.Ordinal)
        {
            [SandboxPaymentProvider.ProviderName] = b => b.Services.AddKeyedSingleton<IPaymentProvider, SandboxPaymentProvider>(SandboxPaymentProvider.ProviderName),
            ["btcpay"] = b => global::Satsub.Payments.Providers.BtcPay.BtcPayModule.AddBtcPay(b),
        };

    public static IEnumerable<string> RealProviders => new[] { "btcpay", "lnd", "bitpay", "opennode" };

    public static IHostApplicationBuilder AddPayments(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PaymentsOptions>().BindConfiguration(PaymentsOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PaymentsOptions>, PaymentsOptionsValidator>();

        var selected = builder.Configuration.GetSection(PaymentsOptions.Section).Get<PaymentsOptions>() ?? new PaymentsOptions();
        foreach (var name in selected.SelectedProviders())
            if (Providers.TryGetValue(name, out var register)) register(builder);

        builder.Services.AddSingleton<PaymentProviders>();
        return builder;
    }
}

/// <summary>Finds the provider for a payment method (honouring the per-method overrides) or by name.</summary>
public sealed class PaymentProviders(IServiceProvider services, IOptions<PaymentsOptions> options)
{
    public IPaymentProvider For(PaymentMethod method) =>
        ByName(options.Value.ProviderFor(method) ?? throw new InvalidOperationException("Payments:Provider is not set."))
        ?? throw new InvalidOperationException($"The payment provider for {method} is not registered.");

    public IPaymentProvider? ByName(string name) => services.GetKeyedService<IPaymentProvider>(name);

    public IWebhookAuthenticator? WebhookAuthenticator(string name) => services.GetKeyedService<IWebhookAuthenticator>(name);
}
