using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Common.Net;
using Satsub.Data;
using Satsub.Hosting;
using Satsub.Outbox;

namespace Satsub.Integrations.Webhooks;

/// <summary>
/// The HTTP client of outgoing webhooks: every connection through the <see cref="SsrfGuard"/> (private targets
/// refused unless <c>Integrations:AllowPrivateTargets</c>), redirects not followed, HTTP/1.1, nothing logged.
/// </summary>
public sealed class WebhookHttpClient : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public WebhookHttpClient(IOptions<IntegrationsOptions> options)
    {
        Http = new HttpClient(SsrfGuard.CreateHandler(options.Value.AllowPrivateTargets, connectTimeout: Timeout), disposeHandler: true)
        {
            // The per-attempt deadline runs on the TimeProvider; this is only a backstop.
            Timeout = Timeout + TimeSpan.FromSeconds(5),
        };
        Http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Satsub-Webhooks", "1.0"));
    }

    public HttpClient Http { get; }

    public void Dispose() => Http.Dispose();
}

/// <summary>
/// Sends due webhook deliveries: POSTs <c>{id, type, created_at, data}</c> signed with the endpoint's secret; a 2xx
/// answer is success; anything else (a 3xx included: redirects are not followed) is retried with exponential
/// backoff (30 s, 1 min, 2 min … capped at 1 h) until 24 hours after the delivery was queued, then it is dead.
/// </summary>
public sealed class WebhookSender(SatsubDbContext db, WebhookHttpClient client, TimeProvider clock, ILogger<WebhookSender> logger)
{
    public static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MaxRetry = TimeSpan.FromHours(1);

    /// <summary>How long a claimed delivery is hidden from other workers while it is being sent.</summary>
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    private const string ClaimSelect =
        "SELECT id FROM webhook_deliveries WHERE status IN ({1}, {2}) AND next_attempt_at <= {3} ORDER BY next_attempt_at LIMIT 20";

    private const string ClaimPostgres =
        "UPDATE webhook_deliveries SET next_attempt_at = {0} WHERE id IN (" + ClaimSelect + " FOR UPDATE SKIP LOCKED) RETURNING id AS \"Value\"";

    private const string ClaimSqlite =
        "UPDATE webhook_deliveries SET next_attempt_at = {0} WHERE id IN (" + ClaimSelect + ") RETURNING id AS \"Value\"";

    /// <summary>The wait after the <paramref name="attempts"/>-th failed attempt.</summary>
    public static TimeSpan Backoff(int attempts) =>
        TimeSpan.FromSeconds(Math.Min(MaxRetry.TotalSeconds, FirstRetry.TotalSeconds * Math.Pow(2, Math.Clamp(attempts - 1, 0, 20))));

    /// <summary>Sends the deliveries due now (a batch); returns how many were attempted.</summary>
    public async Task<int> SendDueAsync(CancellationToken ct)
    {
        var ids = await ClaimAsync(ct);
        foreach (var id in ids)
        {
            db.ChangeTracker.Clear();
            await SendAsync(id, ct);
        }
        return ids.Count;
    }

    /// <summary>
    /// Claims due deliveries by pushing their next attempt a lease ahead, in one statement; on PostgreSQL the rows
    /// are picked with <c>FOR UPDATE SKIP LOCKED</c>, so several instances never send the same attempt.
    /// </summary>
    private async Task<List<Guid>> ClaimAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var pending = EnumNames.ToSnake(WebhookDeliveryStatus.Pending);
        var failed = EnumNames.ToSnake(WebhookDeliveryStatus.Failed);
        return await db.Database.SqlQueryRaw<Guid>(db.IsPostgres ? ClaimPostgres : ClaimSqlite,
            db.Time(now + Lease), pending, failed, db.Time(now)).ToListAsync(ct);
    }

    private async Task SendAsync(Guid id, CancellationToken ct)
    {
        var delivery = await db.WebhookDeliveries.SingleOrDefaultAsync(d => d.Id == id, ct);
        if (delivery is null) return;
        var endpoint = await db.WebhookEndpoints.AsNoTracking().SingleAsync(e => e.Id == delivery.EndpointId, ct);
        var now = clock.GetUtcNow();
        if (endpoint.DisabledAt is not null)
        {
            delivery.Status = WebhookDeliveryStatus.Dead;
            delivery.LastError = "The endpoint was deleted.";
            await db.SaveChangesAsync(ct);
            return;
        }
        var message = await db.OutboxMessages.AsNoTracking().SingleAsync(m => m.Id == delivery.OutboxMessageId, ct);
        var body = Body(message);

        int code;
        string? error;
        using (var timeout = new CancellationTokenSource(WebhookHttpClient.Timeout, clock))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token))
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
                {
                    Version = HttpVersion.Version11,
                    VersionPolicy = HttpVersionPolicy.RequestVersionOrLower, // never HTTP/3: QUIC would bypass the guard
                    Content = new ByteArrayContent(body),
                };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
                request.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.Create(endpoint.Secret, now.ToUnixTimeSeconds(), body));
                using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
                code = (int)response.StatusCode;
                error = code is >= 200 and < 300 ? null : $"HTTP {code}";
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                code = 0;
                error = Describe(ex, timeout.IsCancellationRequested);
            }
        }

        var at = clock.GetUtcNow();
        delivery.Attempts++;
        delivery.LastStatusCode = code == 0 ? null : code;
        delivery.LastError = error;
        var codes = string.IsNullOrEmpty(delivery.AttemptCodes) ? code.ToString(CultureInfo.InvariantCulture) : $"{delivery.AttemptCodes},{code}";
        delivery.AttemptCodes = codes.Length > 1024 ? codes[^1024..] : codes;
        if (error is null)
        {
            delivery.Status = WebhookDeliveryStatus.Succeeded;
            delivery.DeliveredAt = at;
        }
        else
        {
            var next = at + Backoff(delivery.Attempts);
            delivery.Status = next > delivery.GiveUpAt ? WebhookDeliveryStatus.Dead : WebhookDeliveryStatus.Failed;
            delivery.NextAttemptAt = next;
            logger.LogInformation("Webhook delivery {DeliveryId} attempt {Attempt} failed: {Error}", delivery.Id, delivery.Attempts, error);
        }
        await db.SaveChangesAsync(CancellationToken.None);
    }

    /// <summary>The exact bytes sent (and signed): <c>{"id","type","created_at","data"}</c>, data being the event's payload.</summary>
    public static byte[] Body(OutboxMessage message)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("id", EventId(message));
            json.WriteString("type", message.Type);
            json.WriteString("created_at", message.CreatedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
            json.WritePropertyName("data");
            json.WriteRawValue(message.Payload);
            json.WriteEndObject();
        }
        return stream.ToArray();
    }

    /// <summary>Stable for an event across attempts, redeliveries and endpoints: receivers de-duplicate on it.</summary>
    public static string EventId(OutboxMessage message) => "evt_" + message.Id.ToString(CultureInfo.InvariantCulture);

    /// <summary>What went wrong, without the URL (it may hold a token) or anything else secret.</summary>
    private static string Describe(Exception ex, bool timedOut)
    {
        if (SsrfGuard.FindBlocked(ex) is { } blocked) return blocked.Message;
        if (timedOut || ex is TaskCanceledException or TimeoutException) return $"No answer within {WebhookHttpClient.Timeout.TotalSeconds:0} s.";
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is System.Net.Sockets.SocketException socket) return $"Connection failed: {socket.SocketErrorCode}.";
        }
        return ex is HttpRequestException http && http.HttpRequestError != HttpRequestError.Unknown
            ? $"Request failed: {http.HttpRequestError}."
            : $"Request failed: {ex.GetType().Name}.";
    }
}

/// <summary>Sends due webhook deliveries every few seconds, and at once when the outbox dispatcher queued new ones.</summary>
public sealed class WebhookDeliveryWorker : PeriodicJob
{
    public WebhookDeliveryWorker(IServiceScopeFactory scopes, TimeProvider clock, ILogger<WebhookDeliveryWorker> logger, OutboxDispatcherWorker dispatcher)
        : base(scopes, clock, logger) => dispatcher.Dispatched += Wake;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(5);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken ct)
    {
        var sender = services.GetRequiredService<WebhookSender>();
        while (await sender.SendDueAsync(ct) > 0 && !ct.IsCancellationRequested) { }
    }
}
