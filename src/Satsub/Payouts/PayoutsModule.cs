using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Satsub.Payments;
using Satsub.Payouts.LightningAddress;
using Satsub.Payouts.Providers.BtcPay;
using Satsub.Payouts.Providers.Lnd;
using Satsub.Payouts.Providers.Manual;
using Satsub.Payouts.Providers.Sandbox;

namespace Satsub.Payouts;

public static class PayoutsModule
{
    public static readonly IReadOnlyList<string> ProviderNames = [SandboxPayoutProvider.ProviderName, ManualPayoutProvider.ProviderName, LndPayoutProvider.ProviderName, BtcPayPayoutProvider.ProviderName];

    /// <summary>
    /// Registers <c>Payouts</c> (validated at start; the provider defaults to <c>sandbox</c> in Development and
    /// <c>manual</c> elsewhere), the providers, <see cref="PayoutService"/>, <see cref="PayoutProcessor"/>,
    /// <see cref="PayoutExport"/> and the Lightning Address client. The worker is <see cref="AddPayoutWorker"/>.
    /// </summary>
    public static IHostApplicationBuilder AddPayouts(this IHostApplicationBuilder builder)
    {
        var defaultProvider = builder.Environment.IsDevelopment() ? SandboxPayoutProvider.ProviderName : ManualPayoutProvider.ProviderName;
        var services = builder.Services;
        services.AddOptions<PayoutOptions>().BindConfiguration(PayoutOptions.Section)
            .PostConfigure(o => o.Provider = PayoutOptions.Normalize(o.Provider) ?? defaultProvider)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PayoutOptions>, PayoutOptionsValidator>());
        builder.AddLightningAddressPayouts();
        services.AddSingleton<IPayoutProvider, SandboxPayoutProvider>();
        services.AddSingleton<IPayoutProvider, ManualPayoutProvider>();
        services.AddSingleton<IPayoutProvider, LndPayoutProvider>();
        services.AddSingleton<IPayoutProvider, BtcPayPayoutProvider>();
        services.AddProviderHttpClient(BtcPayPayoutProvider.HttpClientName,
            sp => Math.Clamp(sp.GetRequiredService<IOptions<PayoutOptions>>().Value.BtcPay.TimeoutSeconds, 1, 300));
        services.AddScoped<PayoutService>();
        services.AddScoped<PayoutProcessor>();
        services.AddScoped<PayoutExport>();
        services.AddScoped<ScheduledPayouts>();
        services.AddScoped<Affiliates.CommissionReview>();
        services.AddScoped<Affiliates.PayWithEarnings>();
        return builder;
    }

    /// <summary>The payout worker and the scheduled payouts (idle while <c>Payouts:Schedule</c> is off).</summary>
    public static IServiceCollection AddPayoutWorker(this IServiceCollection services) =>
        services.AddHostedService<PayoutWorker>().AddHostedService<ScheduledPayoutWorker>();
}
