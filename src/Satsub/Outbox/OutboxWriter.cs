using System.Text.Json;
using Satsub.Data;

namespace Satsub.Outbox;

/// <summary>Queues effects in the caller's transaction. Event payloads use the API's snake_case JSON.</summary>
public static class OutboxWriter
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Enqueue<T>(SatsubDbContext db, string type, string dedupeKey, T payload, DateTimeOffset at) =>
        db.OutboxMessages.Add(Create(type, dedupeKey, payload, at));

    /// <summary>A message not yet added to any context (<see cref="Enqueue"/> adds it; a batch writer may insert it).</summary>
    public static OutboxMessage Create<T>(string type, string dedupeKey, T payload, DateTimeOffset at) => new()
    {
        Type = type,
        DedupeKey = dedupeKey,
        Payload = JsonSerializer.Serialize(payload, Json),
        CreatedAt = at,
        AvailableAt = at,
    };
}
