using Microsoft.Extensions.DependencyInjection.Extensions;
using Satsub.Outbox;

namespace Satsub.Integrations.Webhooks;

public static class WebhooksModule
{
    /// <summary>Outgoing webhooks and the outbox dispatcher that feeds them (services only; workers: <see cref="AddOutgoingWebhookWorkers"/>).</summary>
    public static IHostApplicationBuilder AddOutgoingWebhooks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<IntegrationsOptions>().BindConfiguration(IntegrationsOptions.Section).ValidateOnStart();
        builder.Services.AddScoped<OutboxDispatcher>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxConsumer, WebhookFanOut>());
        builder.Services.AddSingleton<WebhookHttpClient>();
        builder.Services.AddScoped<WebhookSender>();
        return builder;
    }

    /// <summary>The outbox dispatcher and the delivery sender, for <c>satsub serve</c>.</summary>
    public static IHostApplicationBuilder AddOutgoingWebhookWorkers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<OutboxDispatcherWorker>();
        builder.Services.AddSingleton<WebhookDeliveryWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OutboxDispatcherWorker>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookDeliveryWorker>());
        return builder;
    }
}
