using System.ComponentModel;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Admin;
using Satsub.Api;
using Satsub.Common.Net;
using Satsub.Data;

namespace Satsub.Integrations.Webhooks;

public sealed record CreateWebhookRequest(
    [property: Description("Where to POST events: an absolute https URL (http too when Integrations:AllowPrivateTargets is true).")] string? Url,
    [property: Description("Event types to receive, from the known list.")] JsonElement? Events,
    [property: Description("A note for people (at most 500 characters).")] string? Description);

public sealed record WebhookView(string Id, string Url, IReadOnlyList<string> Events, string? Description, DateTimeOffset CreatedAt);

public sealed record WebhookCreated(string Id, string Url, IReadOnlyList<string> Events, string? Description, DateTimeOffset CreatedAt,
    [property: Description("The signing secret: shown once, store it now.")] string Secret);

public sealed record WebhookDeliveryView(string Id, string EventId, string EventType, string Status, int Attempts,
    [property: Description("The status code of the last attempt; null when no answer came.")] int? LastStatusCode,
    [property: Description("The status code of each attempt, oldest first (0: no answer).")] IReadOnlyList<int> StatusCodes,
    string? LastError, DateTimeOffset CreatedAt, DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt);

/// <summary><c>/api/v1/admin/webhooks</c>: outgoing webhook endpoints, their delivery log and redelivery (admin scope, audited).</summary>
public static class WebhooksApi
{
    public static WebApplication MapOutgoingWebhooksApi(this WebApplication app)
    {
        var hooks = app.MapGroup("/api/v1/admin/webhooks").WithTags("Webhooks")
            .RequireRateLimiting(ApiModule.RateLimitPolicy).RequireAuthorization(ApiCaller.AdminPolicy);
        hooks.MapPost("/", CreateAsync).WithSummary("Add a webhook endpoint (its secret is shown once)").ProducesProblem(400);
        hooks.MapGet("/", ListAsync).WithSummary("List webhook endpoints (never their secrets)");
        hooks.MapDelete("/{id}", DeleteAsync).WithSummary("Delete a webhook endpoint: nothing more is sent to it").ProducesProblem(404);
        hooks.MapGet("/{id}/deliveries", DeliveriesAsync).WithSummary("The delivery log of an endpoint, newest first, with status codes").ProducesProblem(404);
        hooks.MapPost("/{id}/deliveries/{delivery_id}/redeliver", RedeliverAsync)
            .WithSummary("Send a delivery again now (with a fresh 24-hour retry window)").ProducesProblem(404);
        return app;
    }

    private static async Task<Results<Created<WebhookCreated>, ValidationProblem>> CreateAsync(
        CreateWebhookRequest body, SatsubDbContext db, IOptions<IntegrationsOptions> options, AuditLog audit, TimeProvider clock,
        HttpContext http, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var url = errors.Text("url", body.Url, 2048, required: true);
        var description = errors.Text("description", body.Description, 500);
        if (url is not null && !errors.Any) await ValidateUrlAsync(errors, url, options.Value.AllowPrivateTargets, ct);
        var events = new List<string>();
        if (body.Events is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0)
        {
            errors.Add("events", $"is required: an array of event types ({string.Join(", ", WebhookEvents.All)}).");
        }
        else
        {
            foreach (var e in array.EnumerateArray())
            {
                var type = e.StringOrNull();
                if (type is null || !WebhookEvents.IsKnown(type))
                    errors.Add("events", $"'{(type is { Length: <= 64 } t && FieldErrors.IsPrintable(t) ? t : "?")}' is not an event type; known: {string.Join(", ", WebhookEvents.All)}.");
                else if (!events.Contains(type)) events.Add(type);
            }
        }
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());

        var now = clock.GetUtcNow();
        var endpoint = new WebhookEndpoint
        {
            Id = Guid.CreateVersion7(now),
            Url = url!,
            Events = string.Join(',', events),
            Description = description,
            Secret = WebhookSignature.NewSecret(),
            CreatedAt = now,
        };
        db.WebhookEndpoints.Add(endpoint);
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(http, "webhook.create", endpoint.Id.ToString("D"), $"url={RedactedUrl(endpoint.Url)}; events={endpoint.Events}");
        return TypedResults.Created($"/api/v1/admin/webhooks/{endpoint.Id:D}",
            new WebhookCreated(endpoint.Id.ToString("D"), endpoint.Url, endpoint.EventList, endpoint.Description, endpoint.CreatedAt, endpoint.Secret));
    }

    private static async Task<Ok<List<WebhookView>>> ListAsync(SatsubDbContext db, CancellationToken ct)
    {
        var rows = await db.WebhookEndpoints.AsNoTracking().Where(e => e.DisabledAt == null).OrderBy(e => e.CreatedAt).ToListAsync(ct);
        return TypedResults.Ok(rows.Select(View).ToList());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        [FromRoute] string id, SatsubDbContext db, AuditLog audit, TimeProvider clock, HttpContext http, CancellationToken ct)
    {
        if (ParseId(id) is not { } endpointId) return NotFound();
        var now = clock.GetUtcNow();
        // Kept (disabled) so its delivery log stays readable; the sender stops at once.
        var changed = await db.WebhookEndpoints.Where(e => e.Id == endpointId && e.DisabledAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.DisabledAt, now), ct);
        if (changed == 0) return NotFound();
        await audit.RecordAsync(http, "webhook.delete", endpointId.ToString("D"));
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<Page<WebhookDeliveryView>>, ProblemHttpResult, ValidationProblem>> DeliveriesAsync(
        [FromRoute] string id, [FromQuery] string? cursor, [FromQuery] string? limit, SatsubDbContext db, CancellationToken ct)
    {
        if (ParseId(id) is not { } endpointId || !await db.WebhookEndpoints.AnyAsync(e => e.Id == endpointId, ct)) return NotFound();
        var errors = new FieldErrors();
        var (before, take) = Paging.Parse(errors, cursor, limit);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        // Ordered by the outbox message (the event), newest first; the cursor is the last message id seen.
        var rows = await db.WebhookDeliveries.AsNoTracking().Where(d => d.EndpointId == endpointId && (before == 0 || d.OutboxMessageId < before))
            .OrderByDescending(d => d.OutboxMessageId).Take(take + 1).ToListAsync(ct);
        var items = rows.Take(take).Select(DeliveryView).ToList();
        return TypedResults.Ok(new Page<WebhookDeliveryView>(items, rows.Count > take ? Paging.Cursor(rows[take - 1].OutboxMessageId) : null));
    }

    private static async Task<Results<Ok<WebhookDeliveryView>, ProblemHttpResult>> RedeliverAsync(
        [FromRoute] string id, [FromRoute(Name = "delivery_id")] string deliveryId, SatsubDbContext db, AuditLog audit, TimeProvider clock,
        HttpContext http, CancellationToken ct)
    {
        if (ParseId(id) is not { } endpointId || ParseId(deliveryId) is not { } did) return NotFound("No such delivery.");
        var live = await db.WebhookEndpoints.AnyAsync(e => e.Id == endpointId && e.DisabledAt == null, ct);
        var delivery = live ? await db.WebhookDeliveries.SingleOrDefaultAsync(d => d.Id == did && d.EndpointId == endpointId, ct) : null;
        if (delivery is null) return NotFound("No such delivery.");
        var now = clock.GetUtcNow();
        delivery.Status = WebhookDeliveryStatus.Pending;
        delivery.NextAttemptAt = now;
        delivery.GiveUpAt = now + WebhookFanOut.GiveUpAfter;
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(http, "webhook.redeliver", delivery.Id.ToString("D"), $"endpoint={endpointId:D}");
        http.RequestServices.GetService<WebhookDeliveryWorker>()?.Wake();
        return TypedResults.Ok(DeliveryView(delivery));
    }

    /// <summary>
    /// An absolute https URL (http too when private targets are allowed), without credentials; unless private targets
    /// are allowed, a host that is (or resolves to) an internal address is refused here already. The guard checks
    /// again at every delivery, after resolution, since DNS answers change.
    /// </summary>
    internal static async Task ValidateUrlAsync(FieldErrors errors, string url, bool allowPrivateTargets, CancellationToken ct)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            errors.Add("url", "must be an absolute URL.");
            return;
        }
        if (uri.Scheme != Uri.UriSchemeHttps && !(allowPrivateTargets && uri.Scheme == Uri.UriSchemeHttp))
        {
            errors.Add("url", allowPrivateTargets ? "must be an http or https URL." : "must be an https URL.");
            return;
        }
        if (uri.UserInfo.Length > 0)
        {
            errors.Add("url", "must not hold credentials (user:password@): deliveries are authenticated by their signature.");
            return;
        }
        if (uri.Fragment.Length > 0)
        {
            errors.Add("url", "must not have a fragment (#...).");
            return;
        }
        if (allowPrivateTargets) return;
        IPAddress[] addresses;
        if (IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var literal)) addresses = [literal];
        else
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                addresses = await Dns.GetHostAddressesAsync(uri.IdnHost, timeout.Token);
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                return; // not resolvable now: each delivery is checked when it connects
            }
        }
        if (Array.Exists(addresses, SsrfGuard.IsForbidden))
            errors.Add("url", "points to a private, loopback, link-local or reserved address (set Integrations:AllowPrivateTargets to allow it).");
    }

    private static string RedactedUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Path) : "?";

    private static Guid? ParseId(string id) => id.Length <= 64 && Guid.TryParse(id, out var g) ? g : null;

    private static ProblemHttpResult NotFound(string detail = "No such webhook endpoint.") =>
        ApiProblems.NotFound("not_found", detail);

    private static WebhookView View(WebhookEndpoint e) =>
        new(e.Id.ToString("D"), e.Url, e.EventList, e.Description, e.CreatedAt);

    private static WebhookDeliveryView DeliveryView(WebhookDelivery d) =>
        new(d.Id.ToString("D"), "evt_" + d.OutboxMessageId.ToString(System.Globalization.CultureInfo.InvariantCulture), d.EventType,
            EnumNames.ToSnake(d.Status), d.Attempts, d.LastStatusCode,
            d.AttemptCodes.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToList(),
            d.LastError, d.CreatedAt, d.Status is WebhookDeliveryStatus.Pending or WebhookDeliveryStatus.Failed ? d.NextAttemptAt : null, d.DeliveredAt);
}
