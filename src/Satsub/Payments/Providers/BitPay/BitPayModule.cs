using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Satsub.Payments.Providers.BitPay;

public static class BitPayModule
{
    /// <summary>
    /// Registers the <c>bitpay</c> provider and its notification authenticator. Settings are validated at start
    /// with messages naming each key. The HTTP client logs nothing (the token travels in GET query strings) and
    /// retries only GETs: an invoice-creating POST is never repeated by the client.
    /// </summary>
    public static IHostApplicationBuilder AddBitPay(this IHostApplicationBuilder builder)
    {
        builder.Services.AddBitPay();
        return builder;
    }

    public static IServiceCollection AddBitPay(this IServiceCollection services)
    {
        services.AddOptions<BitPayOptions>().BindConfiguration(BitPayOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<BitPayOptions>, BitPayOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);

        services.AddProviderHttpClient(BitPayPaymentProvider.HttpClientName,
            sp => sp.GetRequiredService<IOptions<BitPayOptions>>().Value.TimeoutSeconds);

        services.AddKeyedSingleton<IPaymentProvider, BitPayPaymentProvider>(BitPayPaymentProvider.ProviderName);
        services.AddKeyedSingleton<IWebhookAuthenticator, BitPayWebhookAuthenticator>(BitPayPaymentProvider.ProviderName);
        return services;
    }
}
