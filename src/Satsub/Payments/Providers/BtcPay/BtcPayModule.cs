using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace Satsub.Payments.Providers.BtcPay;

public static class BtcPayModule
{
    /// <summary>Registers BTCPay as the keyed provider and webhook authenticator <c>btcpay</c>, with its validated settings.</summary>
    public static IHostApplicationBuilder AddBtcPay(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<BtcPayOptions>().BindConfiguration(BtcPayOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<BtcPayOptions>, BtcPayOptionsValidator>();

        builder.Services.AddHttpClient(GreenfieldClient.HttpClientName)
            // The pipeline below owns the time-out.
            .ConfigureHttpClient(http => http.Timeout = Timeout.InfiniteTimeSpan)
            // Every request carries the API key: no default request logging for this client.
            .RemoveAllLoggers()
            .AddResilienceHandler("btcpay", (pipeline, context) =>
            {
                var settings = context.ServiceProvider.GetRequiredService<IOptions<BtcPayOptions>>().Value;
                // One call, retries included, gets TimeoutSeconds.
                pipeline.AddTimeout(TimeSpan.FromSeconds(settings.TimeoutSeconds));
                var retry = new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 2,
                    Delay = TimeSpan.FromMilliseconds(200),
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                };
                // Reads are retried on transient failures; creating an invoice never is (a retry could create two).
                retry.DisableForUnsafeHttpMethods();
                pipeline.AddRetry(retry);
            });

        builder.Services.AddSingleton<GreenfieldClient>();
        builder.Services.AddKeyedSingleton<IPaymentProvider, BtcPayPaymentProvider>(BtcPayPaymentProvider.ProviderName);
        builder.Services.AddKeyedSingleton<IWebhookAuthenticator, BtcPayWebhookAuthenticator>(BtcPayPaymentProvider.ProviderName);
        return builder;
    }
}
