using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Satsub.Payments;

/// <summary>The HTTP client every hosted payment provider uses, registered one way.</summary>
public static class ProviderHttpClients
{
    /// <summary>
    /// A named client with a per-attempt time-out, a 1 MiB answer limit, no request logging (provider URLs and
    /// headers carry secrets) and retries for reads only: an invoice-creating POST is never repeated by the client.
    /// </summary>
    public static IHttpResiliencePipelineBuilder AddProviderHttpClient(this IServiceCollection services, string name, Func<IServiceProvider, int> timeoutSeconds) =>
        services.AddHttpClient(name, (sp, http) =>
            {
                http.Timeout = TimeSpan.FromSeconds(timeoutSeconds(sp));
                http.MaxResponseContentBufferSize = 1024 * 1024;
            })
            .RemoveAllLoggers()
            .AddResilienceHandler(name, pipeline =>
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
}
