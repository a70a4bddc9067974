using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Satsub.Common;

namespace Satsub.Payments.Providers.Lnd;

/// <summary>One invoice LND reports settled: its payment hash (our provider invoice id), where it sits in LND's
/// settle order, and what was paid.</summary>
public sealed record LndSettledInvoice(string RHashHex, ulong SettleIndex, Sats AmountPaid);

/// <summary>
/// Watches LND for settled invoices. LND pushes nothing to us, so this holds its invoice subscription open and,
/// like BTCPay's <c>LightningListener</c>, subscribes first and polls second: once the subscription is open on
/// the node, a listing of the invoices catches anything settled between the stored <c>settle_index</c> and
/// that moment, so nothing falls between them. When the stream drops it reconnects with backoff from the last
/// index it handed out.
/// <para>
/// Each settled invoice is yielded once, in increasing <c>settle_index</c> order (LND numbers settlements
/// 1, 2, 3… without gaps), so the consumer can settle it and store its <c>SettleIndex</c> as the cursor in the
/// same database transaction; on restart, pass the stored cursor back in. A consumer that stops mid-way simply
/// resumes from its own stored cursor: the watcher never skips ahead of what it has yielded.
/// </para>
/// </summary>
public sealed class LndInvoiceWatcher
{
    /// <summary>How many invoices one listing page asks for.</summary>
    internal ulong PageSize { get; init; } = 500;

    internal TimeSpan InitialReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    internal TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(60);

    private readonly LndRestClient client;
    /// <summary>Paces reconnects only (wall-clock network time).</summary>
    private readonly TimeProvider clock;
    private readonly ILogger<LndInvoiceWatcher> logger;

    internal LndInvoiceWatcher(LndRestClient client, TimeProvider clock, ILogger<LndInvoiceWatcher> logger)
    {
        this.client = client;
        this.clock = clock;
        this.logger = logger;
    }

    /// <summary>
    /// Settled invoices with a <c>settle_index</c> above <paramref name="lastSettleIndex"/>, for ever (until
    /// <paramref name="ct"/> is cancelled). Connection failures are logged and retried, never thrown.
    /// </summary>
    public async IAsyncEnumerable<LndSettledInvoice> WatchAsync(ulong lastSettleIndex, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var cursor = new Cursor(lastSettleIndex);
        var delay = InitialReconnectDelay;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var connection = await TryOpenAsync(cursor.Last, ct);
            if (connection is not null)
            {
                using (connection)
                {
                    // The subscription is registered on the node: now poll, so a settlement the stream's replay
                    // missed (it happened while we were away or as we connected) is still seen.
                    var polled = await TryPollAsync(cursor.Last, ct);
                    if (polled is not null)
                    {
                        foreach (var invoice in polled) cursor.Offer(invoice);
                        foreach (var item in cursor.TakeReady(upTo: null)) yield return item;
                        delay = InitialReconnectDelay;

                        while (await connection.ReadAsync(ct) is { } message)
                        {
                            if (message.Error is { } error)
                            {
                                logger.LogWarning("LND ended the invoice subscription with error code {Code}: {Message}", error.Code, error.Message);
                                break;
                            }
                            if (AsSettled(message.Result) is not { } settled) continue;
                            cursor.Offer(settled);
                            if (cursor.HasGapBelow(settled.SettleIndex))
                            {
                                // LND numbers settlements without gaps, so one is missing from what we have seen
                                // (lost between the poll and the stream): list again rather than skip it.
                                if (await TryPollAsync(cursor.Last, ct) is not { } again) break;
                                foreach (var invoice in again) cursor.Offer(invoice);
                                if (cursor.HasGapBelow(settled.SettleIndex))
                                    logger.LogWarning("LND's settle indexes below {Index} have a gap that a fresh listing does not fill; reconciliation will re-read those invoices", settled.SettleIndex);
                            }
                            // The stream is in settle order and will not go back: hand out everything up to this index.
                            foreach (var item in cursor.TakeReady(upTo: settled.SettleIndex)) yield return item;
                        }
                    }
                }
                // Anything left pending sits above a gap: the next subscription replays from the cursor and finds it again.
                cursor.ClearPending();
            }
            logger.LogInformation("Reconnecting to LND's invoice subscription in {Delay}", delay);
            await Task.Delay(delay, clock, ct);
            delay = TimeSpan.FromTicks(Math.Min(MaxReconnectDelay.Ticks, delay.Ticks * 2));
        }
    }

    private async Task<StreamConnection?> TryOpenAsync(ulong settleIndex, CancellationToken ct)
    {
        try
        {
            var response = await client.SubscribeInvoicesAsync(settleIndex, ct);
            try
            {
                var stream = await response.Content.ReadAsStreamAsync(ct);
                return new StreamConnection(response, new StreamReader(stream), logger);
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("Could not open LND's invoice subscription: {Reason}", e.Message);
            return null;
        }
    }

    /// <summary>Every settled invoice with a settle_index above <paramref name="after"/>, from a full listing by add_index.</summary>
    private async Task<List<LndSettledInvoice>?> TryPollAsync(ulong after, CancellationToken ct)
    {
        try
        {
            var found = new List<LndSettledInvoice>();
            ulong offset = 0;
            while (true)
            {
                var page = await client.ListInvoicesAsync(offset, PageSize, ct);
                var invoices = page.Invoices ?? [];
                foreach (var invoice in invoices)
                    if (AsSettled(invoice) is { } settled && settled.SettleIndex > after) found.Add(settled);
                if (invoices.Count == 0 || page.LastIndexOffset <= offset) break;
                offset = page.LastIndexOffset;
            }
            return found;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning("Could not list LND's invoices after subscribing: {Reason}", e.Message);
            return null;
        }
    }

    private static LndSettledInvoice? AsSettled(LndInvoice? invoice) =>
        invoice is { State: LndInvoiceState.Settled, SettleIndex: > 0, RHashHex: { } hash }
            ? new LndSettledInvoice(hash, invoice.SettleIndex, new Sats(invoice.AmtPaidSat))
            : null;

    /// <summary>The last index handed out, and settlements seen above a gap, waiting for it to fill.</summary>
    private sealed class Cursor(ulong last)
    {
        private readonly SortedDictionary<ulong, LndSettledInvoice> pending = [];

        public ulong Last { get; private set; } = last;

        public void Offer(LndSettledInvoice invoice)
        {
            if (invoice.SettleIndex > Last) pending.TryAdd(invoice.SettleIndex, invoice);
        }

        /// <summary>
        /// In order: the run that continues <see cref="Last"/> without a gap, and (when the stream has reached
        /// <paramref name="upTo"/>) everything up to it, since the stream will not go back.
        /// </summary>
        public IEnumerable<LndSettledInvoice> TakeReady(ulong? upTo)
        {
            while (pending.Count > 0)
            {
                var (index, invoice) = pending.First();
                if (index != Last + 1 && (upTo is null || index > upTo)) yield break;
                pending.Remove(index);
                Last = index;
                yield return invoice;
            }
        }

        /// <summary>Whether some index between <see cref="Last"/> and <paramref name="index"/> has not been seen.</summary>
        public bool HasGapBelow(ulong index)
        {
            var expected = Last + 1;
            foreach (var seen in pending.Keys)
            {
                if (seen >= index) break;
                if (seen != expected) return true;
                expected++;
            }
            return expected < index;
        }

        public void ClearPending() => pending.Clear();
    }

    /// <summary>The open subscription: newline-delimited JSON messages, <c>{"result": Invoice}</c> or <c>{"error": Status}</c>.</summary>
    private sealed class StreamConnection(HttpResponseMessage response, StreamReader reader, ILogger logger) : IDisposable
    {
        /// <summary>The next message, or null when the stream ended or broke.</summary>
        public async Task<LndStreamMessage?> ReadAsync(CancellationToken ct)
        {
            while (true)
            {
                string? line;
                try
                {
                    line = await reader.ReadLineAsync(ct);
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    logger.LogWarning("LND's invoice subscription dropped: {Reason}", e.Message);
                    return null;
                }
                if (line is null)
                {
                    logger.LogWarning("LND closed the invoice subscription");
                    return null;
                }
                if (string.IsNullOrWhiteSpace(line)) continue;
                try
                {
                    return JsonSerializer.Deserialize<LndStreamMessage>(line, LndJson.Options) ?? new LndStreamMessage();
                }
                catch (JsonException)
                {
                    // A garbled message cannot be trusted to be the only one: start over from the cursor.
                    logger.LogWarning("LND's invoice subscription sent a message that is not JSON; reconnecting");
                    return null;
                }
            }
        }

        public void Dispose()
        {
            reader.Dispose();
            response.Dispose();
        }
    }
}
