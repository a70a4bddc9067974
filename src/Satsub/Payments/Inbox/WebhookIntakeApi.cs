using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Satsub.Payments.Inbox;

/// <summary>
/// <c>POST /api/v1/webhooks/{provider}</c>: read the raw bytes, authenticate them, record the event by its
/// natural id, answer 200 at once; the inbox worker does the rest. A bad or missing signature is 401 with
/// nothing recorded but a warning without the body, and the answer never says why.
/// </summary>
public static class WebhookIntakeApi
{
    public const int MaxBodyBytes = 256 * 1024;

    public static IEndpointRouteBuilder MapPaymentWebhooks(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/webhooks/{provider}", ReceiveAsync)
            .WithName("ReceivePaymentWebhook")
            .WithSummary("A payment provider's notification (BTCPay, BitPay, OpenNode).")
            .WithDescription("Authenticated from the raw body (BTCPay-Sig HMAC, OpenNode hashed_order; BitPay's unsigned notifications only trigger a re-fetch). Answered 200 as soon as recorded.")
            .DisableAntiforgery()
            .AllowAnonymous();
        return app;
    }

    internal static async Task<Results<Ok<WebhookAccepted>, ProblemHttpResult, NotFound<ProblemDetails>>> ReceiveAsync(
        string provider, HttpRequest request, PaymentProviders providers, WebhookRecorder recorder, [FromServices] PaymentInboxWorker worker,
        ILogger<PaymentInbox> logger, CancellationToken ct)
    {
        var name = provider.ToLowerInvariant();
        var authenticator = providers.WebhookAuthenticator(name);
        if (authenticator is null)
            return TypedResults.NotFound(new ProblemDetails { Title = "Not found", Status = 404, Detail = "No provider with webhooks is configured under this name.", Extensions = { ["code"] = "unknown_provider" } });

        var body = await ReadBodyAsync(request, ct);
        var notification = body is null ? null : authenticator.Authenticate(request.Headers, body);
        if (notification is null)
        {
            request.HttpContext.RequestServices.GetService<Operations.SatsubMetrics>()?.WebhookVerificationFailed(name);
            logger.LogWarning("Rejected a {Provider} webhook that failed authentication ({Bytes} bytes) from {Remote}",
                name, body?.Length ?? -1, request.HttpContext.Connection.RemoteIpAddress);
            return TypedResults.Problem(title: "Unauthorized", statusCode: 401, detail: "The notification could not be authenticated.",
                extensions: new Dictionary<string, object?> { ["code"] = "webhook_unauthenticated" });
        }

        var isNew = await recorder.RecordAsync(name, notification, ct);
        if (isNew) worker.Wake();
        return TypedResults.Ok(new WebhookAccepted(isNew ? "recorded" : "duplicate"));
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}

public sealed record WebhookAccepted(string Status);
