using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace Satsub.Payments.Providers.Lnd;

public static class LndModule
{
    /// <summary>
    /// Registers the <c>lnd</c> provider: validated <c>Payments:Lnd</c> options, two HTTP clients that pin the
    /// node's certificate, carry the macaroon and log nothing (one for calls, with a time-out and retries for
    /// GETs only; one for the open-ended invoice subscription), the keyed provider and the
    /// <see cref="LndInvoiceWatcher"/>.
    /// </summary>
    public static IHostApplicationBuilder AddLnd(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<LndOptions>().BindConfiguration(LndOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LndOptions>, LndOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LndMacaroon>();
        services.TryAddTransient<LndMacaroonHandler>();

        var calls = services.AddHttpClient(LndRestClient.HttpClientName, (sp, http) =>
            {
                var o = sp.GetRequiredService<IOptions<LndOptions>>().Value;
                http.BaseAddress = o.BaseUri;
                // The resilience pipeline times each attempt; this only bounds the whole, retries included.
                http.Timeout = TimeSpan.FromSeconds(o.TimeoutSeconds * 3 + 5);
            })
            .ConfigurePrimaryHttpMessageHandler(sp => LndTls.CreateHandler(sp.GetRequiredService<IOptions<LndOptions>>().Value))
            .RemoveAllLoggers();
        calls.AddResilienceHandler("lnd", (pipeline, context) =>
            {
                var o = context.ServiceProvider.GetRequiredService<IOptions<LndOptions>>().Value;
                // Time-outs and retry delays are network time: a business clock (a fake one in tests) must not stretch them.
                pipeline.TimeProvider = TimeProvider.System;
                var retry = new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = 2,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = TimeSpan.FromMilliseconds(200),
                };
                // Only lookups are retried: a retried POST /v1/invoices could leave a second invoice on the node.
                retry.DisableForUnsafeHttpMethods();
                pipeline.AddRetry(retry);
                pipeline.AddTimeout(TimeSpan.FromSeconds(o.TimeoutSeconds));
            });
        calls.AddHttpMessageHandler<LndMacaroonHandler>();

        services.AddHttpClient(LndRestClient.StreamHttpClientName, (sp, http) =>
            {
                http.BaseAddress = sp.GetRequiredService<IOptions<LndOptions>>().Value.BaseUri;
                http.Timeout = Timeout.InfiniteTimeSpan;
            })
            .ConfigurePrimaryHttpMessageHandler(sp => LndTls.CreateHandler(sp.GetRequiredService<IOptions<LndOptions>>().Value, tcpKeepAlive: true))
            .RemoveAllLoggers()
            .AddHttpMessageHandler<LndMacaroonHandler>();

        services.TryAddSingleton(sp => new LndRestClient(sp.GetRequiredService<IHttpClientFactory>()));
        // Reconnect backoff is network time too, hence the system clock.
        services.TryAddSingleton(sp => new LndInvoiceWatcher(
            sp.GetRequiredService<LndRestClient>(), TimeProvider.System, sp.GetRequiredService<ILogger<LndInvoiceWatcher>>()));
        services.AddKeyedSingleton<IPaymentProvider>(LndPaymentProvider.ProviderName, (sp, _) => new LndPaymentProvider(
            sp.GetRequiredService<LndRestClient>(), sp.GetRequiredService<IOptions<LndOptions>>(), sp.GetRequiredService<TimeProvider>()));
        return builder;
    }
}
