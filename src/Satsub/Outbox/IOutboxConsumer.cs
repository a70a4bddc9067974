using Satsub.Data;

namespace Satsub.Outbox;

/// <summary>
/// Something the outbox dispatcher hands each event to (outgoing webhooks, the Telegram sender…). It runs inside
/// the dispatcher's short transaction that also marks the message completed, so what it writes must be idempotent
/// (a natural unique key plus <c>ON CONFLICT DO NOTHING</c>) and quick: queue work, do not do it here.
/// </summary>
public interface IOutboxConsumer
{
    bool Handles(string type);

    Task ConsumeAsync(OutboxMessage message, SatsubDbContext db, CancellationToken ct);

    /// <summary>Several messages it handles, in order, in one transaction. Override to read what they share once.</summary>
    async Task ConsumeAllAsync(IReadOnlyList<OutboxMessage> messages, SatsubDbContext db, CancellationToken ct)
    {
        foreach (var message in messages) await ConsumeAsync(message, db, ct);
    }
}
