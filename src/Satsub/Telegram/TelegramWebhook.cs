using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Telegram.Bot;
using Telegram.Bot.Types;

namespace Satsub.Telegram;

/// <summary>
/// Webhook mode: Telegram posts each update to the path of <c>Telegram:WebhookUrl</c> with the secret in
/// <c>X-Telegram-Bot-Api-Secret-Token</c>, compared in constant time. Anything else is 401 without detail.
/// </summary>
public static class TelegramWebhook
{
    public const string SecretHeader = "X-Telegram-Bot-Api-Secret-Token";
    private const int MaxBody = 1 << 20;

    public static bool SecretMatches(string? expected, string? given)
    {
        if (string.IsNullOrEmpty(expected) || given is null) return false;
        var a = SHA256.HashData(Encoding.UTF8.GetBytes(expected));
        var b = SHA256.HashData(Encoding.UTF8.GetBytes(given));
        // Hashes first: equal lengths, so the comparison time says nothing about the secret's length either.
        return CryptographicOperations.FixedTimeEquals(a, b);
    }

    public static IEndpointRouteBuilder MapTelegramWebhook(this IEndpointRouteBuilder app, TelegramOptions options)
    {
        var path = new Uri(options.WebhookUrl!).AbsolutePath;
        app.MapPost(path, HandleAsync).ExcludeFromDescription().AllowAnonymous();
        return app;
    }

    private static async Task<IResult> HandleAsync(HttpContext http, IOptions<TelegramOptions> options, IServiceScopeFactory scopes, IServiceProvider services, ILoggerFactory logs, CancellationToken ct)
    {
        if (!SecretMatches(options.Value.WebhookSecret, http.Request.Headers[SecretHeader].FirstOrDefault())) return Results.Unauthorized();
        if (http.Request.ContentLength > MaxBody) return Results.StatusCode(413);
        Update? update;
        try
        {
            update = await JsonSerializer.DeserializeAsync<Update>(http.Request.Body, JsonBotAPI.Options, ct);
        }
        catch (JsonException)
        {
            return Results.BadRequest();
        }
        if (update is null) return Results.BadRequest();
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<UpdateProcessor>().ProcessAsync(update, ct);
        }
        catch (Exception ex) when (DbErrors.IsUnavailable(ex))
        {
            logs.CreateLogger(typeof(TelegramWebhook)).LogWarning("Update {UpdateId} not handled: the database is unavailable; Telegram will redeliver it", update.Id);
            return Results.StatusCode(503);
        }
        services.GetService<TelegramSenderWorker>()?.Wake();
        return Results.Ok();
    }
}
