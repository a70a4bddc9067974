using CsCheck;
using Satsub.Payments.Providers.Lnd;
using Reader = Satsub.Tests.Payments.Providers.Lnd.LndInvoiceWatcherTests.Reader;

namespace Satsub.Tests.Payments.Providers.Lnd;

public sealed class LndInvoiceWatcherProperties
{
    private enum Op
    {
        Settle,
        Drop,
        StreamError,
        Garble,
        RestartFromStoredCursor,
    }

    /// <summary>
    /// Settlements before and while watching, with the stream dropped, failing, garbled, replaying its backlog or not,
    /// and the consumer restarting from the cursor it stored: every settlement comes out exactly once, in order.
    /// </summary>
    [Fact]
    public Task AnyMixOfSettlementsDropsAndRestarts_YieldsEachSettlementOnce_InOrder() =>
        Gen.Select(Gen.Int[0, 3], Gen.Bool, Gen.Enum<Op>().Array[1, 14], Gen.Int[0, 15].Array[14])
            .SampleAsync(async t =>
            {
                var (before, replay, ops, pauses) = t;
                await using var fake = await FakeLnd.StartAsync();
                fake.ReplayBacklog = replay;
                using var host = LndTestHost.Create(fake);
                var watcher = LndInvoiceWatcherTests.FastWatcher(host);
                var ids = Enumerable.Range(0, 20).Select(_ => fake.AddInvoice(1000)).ToArray();
                var settled = 0;
                for (; settled < before; settled++) fake.Settle(ids[settled]);

                var stored = new List<LndSettledInvoice>();
                var reader = new Reader(watcher, 0, CancellationToken.None);
                for (var i = 0; i < ops.Length; i++)
                {
                    switch (ops[i])
                    {
                        case Op.Settle: fake.Settle(ids[settled++]); break;
                        case Op.Drop: fake.DropSubscriptions(); break;
                        case Op.StreamError: fake.SendStreamError(14, "transport is closing"); break;
                        case Op.Garble: fake.SendRawLine("{\"result\":"); break;
                        case Op.RestartFromStoredCursor:
                            stored.AddRange(await reader.StopAsync());
                            reader = new Reader(watcher, stored.Count == 0 ? 0 : stored[^1].SettleIndex, CancellationToken.None);
                            break;
                    }
                    if (pauses[i] > 0) await Task.Delay(pauses[i]);
                }
                var rest = await reader.WaitForAsync(settled - stored.Count);
                await reader.StopAsync();
                stored.AddRange(rest);

                Assert.Equal(Enumerable.Range(1, settled).Select(i => (ulong)i), stored.Select(s => s.SettleIndex));
                Assert.Equal(ids[..settled], stored.Select(s => s.RHashHex));
            }, iter: 25, threads: 1);
}
