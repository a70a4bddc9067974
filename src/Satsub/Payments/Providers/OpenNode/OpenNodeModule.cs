using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace Satsub.Payments.Providers.OpenNode;

public static class OpenNodeModule
{
    /// <summary>
    /// Registers the <c>opennode</c> provider and its webhook authenticator. Settings are validated at start
    /// with messages naming each key. The HTTP client logs nothing (the API key is in every request's headers) and
    /// retries only GETs: an invoice-creating POST is never repeated by the client.
    /// </summary>
    public static IHostApplicationBuilder AddOpenNode(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenNode();
        return builder;
    }

    public static IServiceCollection AddOpenNode(this IServiceCollection services)
    {
        services.AddOptions<OpenNodeOptions>().BindConfiguration(OpenNodeOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<OpenNodeOptions>, OpenNodeOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);

        services.AddHttpClient(OpenNodePaymentProvider.HttpClientName, (sp, http) =>
            {
                var o = sp.GetRequiredService<IOptions<OpenNodeOptions>>().Value;
                http.Timeout = TimeSpan.FromSeconds(o.TimeoutSeconds);
                http.MaxResponseContentBufferSize = 1024 * 1024;
            })
            .RemoveAllLoggers()
            .AddResilienceHandler("opennode", pipeline =>
            {
                var retry = new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 2,
                    Delay = TimeSpan.FromMilliseconds(200),
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                };
                retry.DisableForUnsafeHttpMethods();
                pipeline.AddRetry(retry);
            });

        services.AddKeyedSingleton<IPaymentProvider, OpenNodePaymentProvider>(OpenNodePaymentProvider.ProviderName);
        services.AddKeyedSingleton<IWebhookAuthenticator, OpenNodeWebhookAuthenticator>(OpenNodePaymentProvider.ProviderName);
        return services;
    }
}
