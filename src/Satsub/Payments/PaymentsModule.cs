using Microsoft.Extensions.Options;
using Satsub.Payments.Providers.Lnd;

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
            [LndPaymentProvider.ProviderName] = b => b.AddLnd(),
            ["bitpay"] = b => global::Satsub.Payments.Providers.BitPay.BitPayModule.AddBitPay(b),
            ["opennode"] = b => global::Satsub.Payments.Providers.OpenNode.OpenNodeModule.AddOpenNode(b),
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
        builder.Services.AddOptions<Rates.FiatRateOptions>().BindConfiguration(Rates.FiatRateOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<Rates.FiatRateOptions>, Rates.FiatRateOptionsValidator>();
        builder.Services.AddHttpClient(Rates.FiatRates.HttpClientName).RemoveAllLoggers();
        builder.Services.AddSingleton<Rates.FiatRates>(); // one instance: it holds the rate cache
        builder.Services.AddScoped<InvoiceStateApplier>();
        builder.Services.AddScoped<Inbox.PaymentInbox>();
        builder.Services.AddSingleton<Inbox.WebhookRecorder>();
        builder.Services.AddScoped<Reconciliation.Reconciler>();
        builder.Services.AddSingleton<Inbox.PaymentInboxWorker>();
        builder.Services.AddSingleton<Reconciliation.ReconciliationWorker>();
        return builder;
    }

    /// <summary>The background workers of payments; only <c>satsub serve</c> runs them.</summary>
    public static IServiceCollection AddPaymentWorkers(this IServiceCollection services, IConfiguration configuration)
    {
        var selected = configuration.GetSection(PaymentsOptions.Section).Get<PaymentsOptions>() ?? new PaymentsOptions();
        if (selected.SelectedProviders().Contains(LndPaymentProvider.ProviderName))
            services.AddHostedService<LndSettlementWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<Inbox.PaymentInboxWorker>());
        services.AddHostedService(sp => sp.GetRequiredService<Reconciliation.ReconciliationWorker>());
        return services;
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
