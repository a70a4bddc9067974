using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Satsub.Outbox;
using Satsub.Payments;
using Satsub.Subscriptions;

namespace Satsub.Telegram;

public static class TelegramModule
{
    /// <summary>
    /// The bot's services, and the expiry job's. The bot's parts are registered only with a token, so without one the
    /// rest of Satsub runs unchanged (events are then simply not turned into Telegram messages).
    /// </summary>
    public static IHostApplicationBuilder AddTelegram(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelegramOptions>().BindConfiguration(TelegramOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TelegramOptions>, TelegramOptionsValidator>();
        builder.Services.AddOptions<SubscriptionOptions>().BindConfiguration(SubscriptionOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<SubscriptionOptions>, SubscriptionOptionsValidator>();
        builder.Services.AddScoped<SubscriptionExpiry>();
        if (!Enabled(builder.Configuration)) return builder;

        builder.Services.AddTransient<ParseModeNormalizer>();
        // The Bot API puts the token in every URL: the default HTTP client logs would write it out.
        builder.Services.AddHttpClient(TelegramBot.HttpClientName).RemoveAllLoggers().AddHttpMessageHandler<ParseModeNormalizer>();
        builder.Services.AddSingleton<TelegramBot>();
        builder.Services.AddSingleton<Terms>();
        builder.Services.AddScoped<BotHandlers>();
        builder.Services.AddScoped<UpdateProcessor>();
        builder.Services.AddScoped<TelegramSender>();
        builder.Services.AddSingleton<TelegramPoller>();
        builder.Services.AddSingleton<TelegramStartupCheck>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IOutboxConsumer, TelegramEventConsumer>());
        return builder;
    }

    /// <summary>The workers, for <c>satsub serve</c>: expiry job always; sender, polling and the start-up check with a token.</summary>
    public static IHostApplicationBuilder AddTelegramWorkers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHostedService<SubscriptionExpiryJob>();
        if (!Enabled(builder.Configuration)) return builder;
        builder.Services.AddSingleton<TelegramSenderWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TelegramSenderWorker>());
        builder.Services.AddHostedService<TelegramStartupService>();
        if (!IsWebhook(builder.Configuration)) builder.Services.AddHostedService<TelegramPollingWorker>();
        return builder;
    }

    /// <summary>The webhook endpoint (webhook mode) and the <c>/pay/{id}</c> redirect behind the "Open in wallet" button.</summary>
    public static WebApplication MapTelegram(this WebApplication app)
    {
        app.MapGet("/pay/{invoice_id}", PayRedirectAsync).ExcludeFromDescription().AllowAnonymous();
        var options = app.Services.GetRequiredService<IOptions<TelegramOptions>>().Value;
        if (options.Enabled && options.IsWebhook) app.MapTelegramWebhook(options);
        return app;
    }

    private static bool Enabled(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration["Telegram:BotToken"]);

    private static bool IsWebhook(IConfiguration configuration) => string.Equals(configuration["Telegram:Mode"], "webhook", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Telegram's URL buttons take only http(s) links; this page hands the wallet the invoice's own payment URI
    /// (<c>lightning:</c> / <c>bitcoin:</c>). It reveals nothing the QR code does not.
    /// </summary>
    private static async Task<IResult> PayRedirectAsync(string invoice_id, Data.SatsubDbContext db, CancellationToken ct)
    {
        if (!Guid.TryParse(invoice_id, out var id)) return Results.NotFound();
        var uri = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.SingleOrDefaultAsync(
            db.Invoices.Where(i => i.Id == id && i.Status == InvoiceStatus.New).Select(i => i.PaymentUri), ct);
        return string.IsNullOrEmpty(uri) || uri.StartsWith("javascript:", StringComparison.OrdinalIgnoreCase) ? Results.NotFound() : Results.Redirect(uri);
    }
}
