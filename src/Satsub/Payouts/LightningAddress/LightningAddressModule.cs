using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Satsub.Payouts.LightningAddress;

public static class LightningAddressModule
{
    /// <summary>
    /// Registers <see cref="LnurlPayClient"/> (one instance: it owns its SSRF-guarded connection pool) and
    /// <c>Payouts:LightningAddress</c>, validated at start. Needs <c>Bitcoin:Network</c> bound, as the host does.
    /// </summary>
    public static IHostApplicationBuilder AddLightningAddressPayouts(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<LightningAddressOptions>().BindConfiguration(LightningAddressOptions.Section).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LightningAddressOptions>, LightningAddressOptionsValidator>());
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<LnurlPayClient>();
        return builder;
    }
}
