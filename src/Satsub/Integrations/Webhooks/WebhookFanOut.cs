using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Outbox;

namespace Satsub.Integrations.Webhooks;

/// <summary>
/// The outbox consumer of outgoing webhooks: queues one delivery per active endpoint subscribed to the event.
/// The (endpoint, outbox message) key is unique and the insert does nothing on conflict, so dispatching an event
/// twice (a crash before the commit, two instances) still queues each delivery once.
/// </summary>
public sealed class WebhookFanOut(TimeProvider clock) : IOutboxConsumer
{
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromHours(24);

    public bool Handles(string type) => WebhookEvents.IsKnown(type);

    public Task ConsumeAsync(OutboxMessage message, SatsubDbContext db, CancellationToken ct) => ConsumeAllAsync([message], db, ct);

    /// <summary>The endpoints are read once for the whole chunk of messages.</summary>
    public async Task ConsumeAllAsync(IReadOnlyList<OutboxMessage> messages, SatsubDbContext db, CancellationToken ct)
    {
        var endpoints = await db.WebhookEndpoints.AsNoTracking().Where(e => e.DisabledAt == null)
            .Select(e => new { e.Id, e.Events }).ToListAsync(ct);
        if (endpoints.Count == 0) return;
        var now = clock.GetUtcNow();
        foreach (var message in messages)
        {
            foreach (var endpoint in endpoints)
            {
                if (!endpoint.Events.Split(',').Contains(message.Type, StringComparer.Ordinal)) continue;
                await db.Database.ExecuteSqlRawAsync(
                    "INSERT INTO webhook_deliveries (id, endpoint_id, outbox_message_id, event_type, status, attempts, next_attempt_at, give_up_at, attempt_codes, created_at) " +
                    "VALUES ({0}, {1}, {2}, {3}, {4}, 0, {5}, {6}, '', {5}) ON CONFLICT (endpoint_id, outbox_message_id) DO NOTHING",
                    [Guid.CreateVersion7(now), endpoint.Id, message.Id, message.Type, EnumNames.ToSnake(WebhookDeliveryStatus.Pending), db.Time(now), db.Time(now + GiveUpAfter)], ct);
            }
        }
    }
}
