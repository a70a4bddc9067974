using System.Text.Json;
using Satsub.Data;

namespace Satsub.Outbox;

/// <summary>Queues effects in the caller's transaction. Event payloads use the API's snake_case JSON.</summary>
public static class OutboxWriter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Enqueue<T>(SatsubDbContext db, string type, string dedupeKey, T payload, DateTimeOffset at) =>
        db.OutboxMessages.Add(new OutboxMessage
        {
            Type = type,
            DedupeKey = dedupeKey,
            Payload = JsonSerializer.Serialize(payload, Json),
            CreatedAt = at,
            AvailableAt = at,
        });
}
