using Microsoft.Extensions.Options;

namespace Satsub.Payments;

public static class PaymentsModule
{
    public static IHostApplicationBuilder AddPayments(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PaymentsOptions>().BindConfiguration(PaymentsOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PaymentsOptions>, PaymentsOptionsValidator>();
        builder.Services.AddSingleton<SandboxPaymentProvider>();
        // The one provider configured for this process (per-method overrides come with the real providers).
        builder.Services.AddSingleton<IPaymentProvider>(sp =>
        {
            var name = sp.GetRequiredService<IOptions<PaymentsOptions>>().Value.Provider?.Trim().ToLowerInvariant();
            return name switch
            {
                SandboxPaymentProvider.ProviderName => sp.GetRequiredService<SandboxPaymentProvider>(),
                _ => throw new InvalidOperationException($"Payments:Provider '{name}' is not available."),
            };
        });
        return builder;
    }
}
