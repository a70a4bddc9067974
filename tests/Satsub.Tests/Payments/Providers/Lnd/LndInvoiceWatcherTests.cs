using Satsub.Common;
using Satsub.Payments;
using Satsub.Payments.Providers.Lnd;

namespace Satsub.Tests.Payments.Providers.Lnd;

public sealed class LndInvoiceWatcherTests : IAsyncLifetime
{
    internal static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private FakeLnd fake = null!;
    private LndTestHost host = null!;
    private LndInvoiceWatcher watcher = null!;
    private readonly CancellationTokenSource stop = new();

    public async Task InitializeAsync()
    {
        fake = await FakeLnd.StartAsync();
        host = LndTestHost.Create(fake);
        watcher = FastWatcher(host);
    }

    public async Task DisposeAsync()
    {
        await stop.CancelAsync();
        host.Dispose();
        await fake.DisposeAsync();
        stop.Dispose();
    }

    /// <summary>Reads the watcher in the background, like the lead's worker would.</summary>
    internal sealed class Reader
    {
        private readonly List<LndSettledInvoice> seen = [];
        private readonly CancellationTokenSource cts;
        private readonly Task pump;

        public Reader(LndInvoiceWatcher watcher, ulong from, CancellationToken ct)
        {
            cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            pump = Task.Run(async () =>
            {
                try
                {
                    await foreach (var invoice in watcher.WatchAsync(from, cts.Token))
                        lock (seen) seen.Add(invoice);
                }
                catch (OperationCanceledException)
                {
                }
            }, CancellationToken.None);
        }

        public List<LndSettledInvoice> Seen { get { lock (seen) return [.. seen]; } }

        /// <summary>Stops reading, as a worker does on shutdown, and returns what it saw.</summary>
        public async Task<List<LndSettledInvoice>> StopAsync()
        {
            await cts.CancelAsync();
            await pump;
            cts.Dispose();
            return Seen;
        }

        public async Task<List<LndSettledInvoice>> WaitForAsync(int count)
        {
            var until = DateTime.UtcNow + Patience;
            while (Seen.Count < count)
            {
                if (pump.IsFaulted) await pump;
                if (DateTime.UtcNow > until) throw new TimeoutException($"expected {count} settlements, saw {Seen.Count}");
                await Task.Delay(10);
            }
            // Give a duplicate the chance to show up.
            await Task.Delay(150);
            return Seen;
        }
    }

    internal static LndInvoiceWatcher FastWatcher(LndTestHost host) => new(
        (LndRestClient)host.Services.GetService(typeof(LndRestClient))!, TimeProvider.System,
        (Microsoft.Extensions.Logging.ILogger<LndInvoiceWatcher>)host.Services.GetService(typeof(Microsoft.Extensions.Logging.ILogger<LndInvoiceWatcher>))!)
    {
        InitialReconnectDelay = TimeSpan.FromMilliseconds(20),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
        PageSize = 2,
    };

    private string[] Invoices(int n, long sats = 1000) => Enumerable.Range(0, n).Select(_ => fake.AddInvoice(sats)).ToArray();

    [Fact]
    public async Task SettlementsOnTheStream_AreYieldedWithTheirIndexAndAmount_AndOtherUpdatesAreIgnored()
    {
        var ids = Invoices(3, 1500);
        var reader = new Reader(watcher, 0, stop.Token);
        await fake.WaitForSubscriptionsAsync(1);
        fake.Accept(ids[2]);
        fake.Settle(ids[1]);
        fake.Cancel(ids[0]);
        fake.AddInvoice(99);
        fake.Settle(ids[2], 1600);

        var seen = await reader.WaitForAsync(2);
        Assert.Equal([new LndSettledInvoice(ids[1], 1, new Sats(1500)), new LndSettledInvoice(ids[2], 2, new Sats(1600))], seen);
    }

    [Fact]
    public async Task It_SubscribesFirst_ThenPolls_AndThePollCatchesWhatTheStreamMissed()
    {
        // The node settled 1..3 while we were away, but this stream does not replay them: only the poll can see them.
        fake.ReplayBacklog = false;
        var ids = Invoices(5);
        foreach (var id in ids[..3]) fake.Settle(id);

        var reader = new Reader(watcher, 1, stop.Token);
        var seen = await reader.WaitForAsync(2);
        Assert.Equal([(ids[1], 2UL), (ids[2], 3UL)], seen.Select(s => (s.RHashHex, s.SettleIndex)));

        var order = fake.Requests.Select(r => r.Path).Where(p => p is "/v1/invoices/subscribe" or "/v1/invoices").ToList();
        Assert.Equal("/v1/invoices/subscribe", order[0]);
        Assert.Equal("1", fake.RequestsTo("/v1/invoices/subscribe")[0].Query["settle_index"]);
        // Paged through every invoice by add_index: 5 invoices, pages of 2, then an empty page.
        Assert.Equal(["0", "2", "4", "5"], fake.RequestsTo("/v1/invoices").Select(r => r.Query["index_offset"]));
        Assert.All(fake.RequestsTo("/v1/invoices"), r => Assert.Equal("2", r.Query["num_max_invoices"]));

        fake.Settle(ids[4]);
        seen = await reader.WaitForAsync(3);
        Assert.Equal([2UL, 3UL, 4UL], seen.Select(s => s.SettleIndex));
    }

    [Fact]
    public async Task AGapInTheStream_IsFilledByAnotherPoll_NotSkipped()
    {
        var ids = Invoices(3);
        var reader = new Reader(watcher, 0, stop.Token);
        await fake.WaitForSubscriptionsAsync(1);
        await WaitForListingToEndAsync(atOffset: "3");
        // Settlement 1 never reaches the stream; settlement 2 does: the watcher must not hand out 2 before 1.
        fake.LoseNextStreamMessage = true;
        fake.Settle(ids[0]);
        fake.Settle(ids[1]);
        fake.Settle(ids[2]);

        var seen = await reader.WaitForAsync(3);
        Assert.Equal([(ids[0], 1UL), (ids[1], 2UL), (ids[2], 3UL)], seen.Select(s => (s.RHashHex, s.SettleIndex)));
    }

    /// <summary>Waits until the watcher asked for the listing's last (empty) page: its poll saw nothing settled.</summary>
    private async Task WaitForListingToEndAsync(string atOffset)
    {
        var until = DateTime.UtcNow + Patience;
        while (!fake.RequestsTo("/v1/invoices").Any(r => r.Query["index_offset"] == atOffset))
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("the watcher never listed the invoices");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task WhatBothTheReplayAndThePollReport_IsYieldedOnce()
    {
        var ids = Invoices(4);
        foreach (var id in ids) fake.Settle(id);
        var reader = new Reader(watcher, 0, stop.Token);
        var seen = await reader.WaitForAsync(4);
        Assert.Equal([1UL, 2UL, 3UL, 4UL], seen.Select(s => s.SettleIndex));

        // A second watcher resuming from 2 gets the stream's replay of 3, 4 and the poll's 3, 4: each once.
        var resumed = new Reader(watcher, 2, stop.Token);
        Assert.Equal([3UL, 4UL], (await resumed.WaitForAsync(2)).Select(s => s.SettleIndex));
    }

    [Fact]
    public async Task ADropMidStream_ResumesFromTheLastIndex_WithoutLosingOrRepeating()
    {
        var ids = Invoices(6);
        var reader = new Reader(watcher, 0, stop.Token);
        await fake.WaitForSubscriptionsAsync(1);
        fake.Settle(ids[0]);
        fake.Settle(ids[1]);
        await reader.WaitForAsync(2);

        fake.RefuseSubscriptions = true;           // the node goes away for a moment…
        fake.DropSubscriptions();
        fake.Settle(ids[2]);                       // …while more invoices are paid
        fake.Settle(ids[3]);
        await WaitUntil(() => fake.RequestsTo("/v1/invoices/subscribe").Count >= 3);
        fake.RefuseSubscriptions = false;
        await fake.WaitForSubscriptionsAsync(1);
        fake.Settle(ids[4]);

        fake.SendStreamError(14, "transport is closing");   // a stream error also makes it reconnect
        await WaitUntil(() => fake.RequestsTo("/v1/invoices/subscribe").Count(r => r.Query["settle_index"] == "5") >= 1);
        await fake.WaitForSubscriptionsAsync(1);
        fake.Settle(ids[5]);

        var seen = await reader.WaitForAsync(6);
        Assert.Equal(ids, seen.Select(s => s.RHashHex));
        Assert.Equal([1UL, 2UL, 3UL, 4UL, 5UL, 6UL], seen.Select(s => s.SettleIndex));
        var resumedFrom = fake.RequestsTo("/v1/invoices/subscribe").Select(r => r.Query["settle_index"]).Distinct().ToList();
        Assert.Equal(["0", "2", "5"], resumedFrom);
    }

    [Fact]
    public async Task AGarbledLine_MakesItReconnect_AndNothingIsLost()
    {
        var ids = Invoices(2);
        var reader = new Reader(watcher, 0, stop.Token);
        await fake.WaitForSubscriptionsAsync(1);
        fake.Settle(ids[0]);
        await reader.WaitForAsync(1);
        fake.SendRawLine("{\"result\": {\"r_hash\": ");
        fake.Settle(ids[1]);
        var seen = await reader.WaitForAsync(2);
        Assert.Equal([1UL, 2UL], seen.Select(s => s.SettleIndex));
    }

    [Fact]
    public async Task AWrongMacaroon_IsRetriedWithBackoff_AndNeverLogged()
    {
        using var badHost = LndTestHost.Create(fake, s => s["Payments:Lnd:MacaroonHex"] = "abcdef");
        var reader = new Reader(badHost.Watcher, 0, stop.Token);
        await WaitUntil(() => fake.RequestsTo("/v1/invoices/subscribe").Count >= 2, TimeSpan.FromSeconds(5));
        Assert.Empty(reader.Seen);
        Assert.Contains(badHost.Logs.Lines, l => l.Contains("403", StringComparison.Ordinal));
        Assert.DoesNotContain(badHost.Logs.Lines, l => l.Contains("abcdef", StringComparison.OrdinalIgnoreCase));
    }

    internal static async Task WaitUntil(Func<bool> condition, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? Patience);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("condition not met");
            await Task.Delay(10);
        }
    }
}
