using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;

namespace Satsub.Payments.Inbox;

/// <summary>
/// Records authenticated webhooks in the inbox with group commit: a webhook that arrives while another batch is being
/// written waits for the next one, and each batch is one <c>INSERT … ON CONFLICT DO NOTHING RETURNING</c> in its own
/// transaction. Every caller is answered only once its row is durable (or with the database's error), so a 2xx still
/// means "recorded"; under load, 32 concurrent webhooks cost one commit instead of 32 (docs/benchmarks.md).
/// </summary>
public sealed class WebhookRecorder(IServiceScopeFactory scopes, TimeProvider clock)
{
    /// <summary>At most this many webhooks per statement (4 parameters each).</summary>
    internal const int MaxBatch = 128;

    private sealed record Pending(string Provider, string EventId, string? ProviderInvoiceId, string Kind, TaskCompletionSource<bool> Recorded);

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private int _writing;

    /// <summary>Records a notification; true when it is new (a second delivery of the same event id changes nothing).</summary>
    public Task<bool> RecordAsync(string provider, WebhookNotification notification, CancellationToken ct)
    {
        var pending = new Pending(provider, Truncate(notification.EventId, 200), notification.ProviderInvoiceId, Truncate(notification.Kind, 64),
            new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        _queue.Writer.TryWrite(pending);
        StartWriterIfIdle();
        // A caller that gives up stops waiting; its row may still be written, which a provider's retry then finds.
        return pending.Recorded.Task.WaitAsync(ct);
    }

    private void StartWriterIfIdle()
    {
        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0) _ = Task.Run(WriteAllAsync);
    }

    private async Task WriteAllAsync()
    {
        try
        {
            var batch = new List<Pending>(MaxBatch);
            while (true)
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var next)) batch.Add(next);
                if (batch.Count == 0) break;
                try
                {
                    var inserted = await InsertAsync(batch);
                    // The same event twice in one batch: the first is the new one, the second a duplicate.
                    foreach (var p in batch) p.Recorded.TrySetResult(inserted.Remove((p.Provider, p.EventId)));
                }
                catch (Exception ex)
                {
                    foreach (var p in batch) p.Recorded.TrySetException(ex);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
        // A webhook queued between the last read and the reset above would otherwise wait for the next one.
        if (_queue.Reader.TryPeek(out _)) StartWriterIfIdle();
    }

    private async Task<HashSet<(string, string)>> InsertAsync(List<Pending> batch)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync();
        try
        {
            await using var command = connection.CreateCommand();
            // VALUES' columns are column1…column4 on both databases; the invoice is looked up inside the statement.
            // "WHERE true" keeps SQLite from reading ON CONFLICT as a join's ON.
            var sql = new StringBuilder(
                "INSERT INTO payment_events (provider, event_id, invoice_id, provider_invoice_id, kind, received_at, attempts, next_attempt_at) " +
                "SELECT v.column1, v.column2, (SELECT i.id FROM invoices i WHERE i.provider = v.column1 AND i.provider_invoice_id = v.column3), " +
                "v.column3, v.column4, @at, 0, @at FROM (VALUES ");
            for (var i = 0; i < batch.Count; i++)
            {
                if (i > 0) sql.Append(", ");
                sql.Append(CultureInfo.InvariantCulture, $"(@p{i}, @e{i}, @i{i}, @k{i})");
                Add(command, $"p{i}", batch[i].Provider);
                Add(command, $"e{i}", batch[i].EventId);
                Add(command, $"i{i}", batch[i].ProviderInvoiceId);
                Add(command, $"k{i}", batch[i].Kind);
            }
            sql.Append(") AS v WHERE true ON CONFLICT (provider, event_id) DO NOTHING RETURNING provider, event_id");
            Add(command, "at", db.Time(clock.GetUtcNow()));
            command.CommandText = sql.ToString();
            var inserted = new HashSet<(string, string)>();
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync()) inserted.Add((reader.GetString(0), reader.GetString(1)));
            }
            return inserted;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static void Add(System.Data.Common.DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    private static string Truncate(string s, int max) => s.Length <= max ? s : s[..max];
}
