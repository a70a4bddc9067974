using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Hosting;

namespace Satsub.Outbox;

/// <summary>
/// Hands committed outbox events to every <see cref="IOutboxConsumer"/> that handles their type, then marks them
/// completed. One message per short transaction: on PostgreSQL the row is claimed with <c>FOR UPDATE SKIP LOCKED</c>,
/// so any number of instances share the work and none sees a row another is handling; on SQLite one process
/// writes at a time. Consumers write idempotently, so a crash between their write and the commit repeats nothing.
/// </summary>
public sealed class OutboxDispatcher(SatsubDbContext db, IEnumerable<IOutboxConsumer> consumers, TimeProvider clock, ILogger<OutboxDispatcher> logger)
{
    internal const int BatchSize = 100;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(10);
    private readonly IOutboxConsumer[] consumers = consumers.ToArray();

    /// <summary>
    /// Dispatches due messages (at most a batch); returns how many were completed. Messages are claimed and completed
    /// <see cref="ChunkSize"/> at a time, in one transaction (one commit per chunk rather than per message: a settlement
    /// queues three). When anything in a chunk fails, the chunk is rolled back and its messages go one at a time, so one
    /// bad message gets its own back-off and holds up none of the others.
    /// </summary>
    public async Task<int> DispatchDueAsync(CancellationToken ct)
    {
        var done = 0;
        while (done < BatchSize)
        {
            var (claimed, completed) = await DispatchChunkAsync(ct);
            if (completed is null)
            {
                for (var i = 0; i < claimed; i++)
                {
                    var outcome = await DispatchOneAsync(ct);
                    if (outcome is null) break;
                    if (outcome.Value) done++;
                }
            }
            else done += completed.Value;
            if (claimed < ChunkSize) break;
        }
        return done;
    }

    private const int ChunkSize = 50;

    /// <summary>How many messages were claimed, and how many completed (null: the chunk failed and was rolled back).</summary>
    private async Task<(int Claimed, int? Completed)> DispatchChunkAsync(CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var messages = await ClaimAsync(now, ChunkSize, ct);
        if (messages.Count == 0) return (0, 0);
        try
        {
            foreach (var consumer in consumers)
            {
                var handled = messages.Where(m => consumer.Handles(m.Type)).ToList();
                if (handled.Count > 0) await consumer.ConsumeAllAsync(handled, db, ct);
            }
            await db.SaveChangesAsync(ct); // what the consumers wrote
            // One statement completes the chunk (the rows are ours: claimed above, locked until the commit).
            var ids = messages.Select(m => m.Id).ToList();
            await db.OutboxMessages.Where(m => ids.Contains(m.Id)).ExecuteUpdateAsync(s => s
                .SetProperty(m => m.CompletedAt, now).SetProperty(m => m.LastError, (string?)null), ct);
            await tx.CommitAsync(ct);
            // One line per message (operators and the two-instance test follow a message by its id).
            if (logger.IsEnabled(LogLevel.Debug))
                foreach (var message in messages) logger.LogDebug("Outbox message {MessageId} ({Type}) dispatched", message.Id, message.Type);
            return (messages.Count, messages.Count);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            await tx.RollbackAsync(CancellationToken.None);
            logger.LogDebug("A chunk of {Count} outbox messages failed ({Error}); dispatching them one at a time", messages.Count, ex.GetType().Name);
            return (messages.Count, null);
        }
    }

    /// <summary>Null when nothing is due; otherwise whether the claimed message was completed.</summary>
    private async Task<bool?> DispatchOneAsync(CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var now = clock.GetUtcNow();
        OutboxMessage? message;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            message = (await ClaimAsync(now, 1, ct)).FirstOrDefault();
            if (message is null) return null;
            try
            {
                foreach (var consumer in consumers)
                {
                    if (consumer.Handles(message.Type)) await consumer.ConsumeAsync(message, db, ct);
                }
                message.CompletedAt = now;
                message.LastError = null;
                await db.SaveChangesAsync(ct);
                await tx.CommitAsync(ct);
                logger.LogDebug("Outbox message {MessageId} ({Type}) dispatched", message.Id, message.Type);
                return true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                await tx.RollbackAsync(CancellationToken.None);
                logger.LogWarning("Outbox message {MessageId} ({Type}) failed to dispatch: {Error}", message.Id, message.Type, ex.GetType().Name);
                var lastError = ex.GetType().Name;
                var attempts = message.Attempts + 1;
                var backoff = TimeSpan.FromSeconds(Math.Min(MaxBackoff.TotalSeconds, Math.Pow(2, Math.Min(attempts, 20))));
                var id = message.Id;
                db.ChangeTracker.Clear();
                await db.OutboxMessages.Where(m => m.Id == id).ExecuteUpdateAsync(s => s
                    .SetProperty(m => m.Attempts, attempts)
                    .SetProperty(m => m.AvailableAt, now + backoff)
                    .SetProperty(m => m.LastError, lastError), CancellationToken.None);
                return false;
            }
        }
    }

    private async Task<List<OutboxMessage>> ClaimAsync(DateTimeOffset now, int limit, CancellationToken ct)
    {
        if (db.IsPostgres)
        {
            return await db.OutboxMessages.FromSqlRaw(
                    "SELECT * FROM outbox_messages WHERE completed_at IS NULL AND available_at <= {0} " +
                    "ORDER BY available_at, id LIMIT {1} FOR UPDATE SKIP LOCKED", db.Time(now), limit)
                .AsTracking().ToListAsync(ct);
        }
        return await db.OutboxMessages.Where(m => m.CompletedAt == null && m.AvailableAt <= now)
            .OrderBy(m => m.AvailableAt).ThenBy(m => m.Id).Take(limit).ToListAsync(ct);
    }
}

/// <summary>Runs the <see cref="OutboxDispatcher"/> every couple of seconds (woken early by <see cref="PeriodicJob.Wake"/>).</summary>
public sealed class OutboxDispatcherWorker(IServiceScopeFactory scopes, TimeProvider clock, ILogger<OutboxDispatcherWorker> logger)
    : PeriodicJob(scopes, clock, logger)
{
    /// <summary>Called after a batch was dispatched (the webhook sender wakes here).</summary>
    public event Action? Dispatched;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(2);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken ct)
    {
        // Until nothing is due: one batch per tick capped the outbox at 50 messages a second, a sixth of what settlement
        // queues at a few hundred sales a second (the backlog grew without end in the benchmark).
        await DrainAsync(services.GetRequiredService<OutboxDispatcher>(), Dispatched, ct);
    }

    /// <summary>Dispatches batches until one comes back short (nothing more is due); returns how many were completed.</summary>
    internal static async Task<int> DrainAsync(OutboxDispatcher dispatcher, Action? dispatched, CancellationToken ct)
    {
        var total = 0;
        int done;
        do
        {
            done = await dispatcher.DispatchDueAsync(ct);
            total += done;
            if (done > 0) dispatched?.Invoke();
        }
        while (done >= OutboxDispatcher.BatchSize && !ct.IsCancellationRequested);
        return total;
    }
}
