using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

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

        services.AddProviderHttpClient(OpenNodePaymentProvider.HttpClientName,
            sp => sp.GetRequiredService<IOptions<OpenNodeOptions>>().Value.TimeoutSeconds);

        services.AddKeyedSingleton<IPaymentProvider, OpenNodePaymentProvider>(OpenNodePaymentProvider.ProviderName);
        services.AddKeyedSingleton<IWebhookAuthenticator, OpenNodeWebhookAuthenticator>(OpenNodePaymentProvider.ProviderName);
        return services;
    }
}
