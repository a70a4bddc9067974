using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Satsub.Payments;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payments.Providers.BtcPay;
using Xunit.Abstractions;

namespace Satsub.Tests.Faults;

/// <summary>
/// The real <c>satsub serve</c> process is killed with SIGKILL twice while signed BTCPay webhooks stream in and the
/// inbox worker settles them; it is restarted each time, and the sender retries every delivery that did not get a 2xx,
/// as BTCPay does. Every invoice ends settled exactly once, no posting is half-written, the outbox drains.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class CrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private FakeBtcPayServer btcpay = null!;
    private string database = null!;

    public async Task InitializeAsync()
    {
        btcpay = await FakeBtcPayServer.StartAsync(NBitcoin.Network.RegTest);
        database = await TestPostgres.CreateDatabaseAsync();
    }

    public async Task DisposeAsync()
    {
        await btcpay.DisposeAsync();
        await TestPostgres.DropDatabaseAsync(database);
    }

    [Fact]
    public async Task KillNine_WhileWebhooksStreamIn_ThenRestart_EveryInvoiceSettlesOnce_AndTheOutboxResumes()
    {
        var rng = new Random(9_001);
        var settings = BtcPaySettings.For(btcpay);
        settings["Database:Provider"] = "postgres";
        settings["ConnectionStrings:Satsub"] = database;

        List<OpenSale> sales;
        await using (var host = await FaultHost.StartAsync(settings))
            sales = await Sales.OpenAsync(host.Services, rng, buyers: 60, invoices: 240);
        Sales.PayAll(btcpay, sales);
        // Per invoice: a payment event and the settled event, that one redelivered once.
        var deliveries = Sales.Deliveries(btcpay, sales, rng, ("InvoicePaymentSettled", 1), ("InvoiceSettled", 2));

        var port = FreePort.Next();
        var server = await ServeProcess.StartAsync(port, settings);
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var sender = new WebhookSender(http, new Uri(server.BaseUri, "api/v1/webhooks/btcpay"));
            var sending = sender.SendAllAsync(deliveries, senders: 8, retryDelay: TimeSpan.FromMilliseconds(250), within: TimeSpan.FromSeconds(240));
            var clock = Stopwatch.StartNew();

            foreach (var fraction in new[] { 0.25, 0.6 })
            {
                while (sender.Accepted < fraction * deliveries.Count && !sending.IsCompleted) await Task.Delay(5);
                Assert.False(sending.IsCompleted, "the stream ended before the kill");
                var pid = server.Pid;
                server.Kill();
                var (settled, pending) = await FaultDb.QueryAsync(database, async db =>
                    (await db.Invoices.CountAsync(i => i.Status == InvoiceStatus.Settled), await db.PaymentEvents.CountAsync(e => e.ProcessedAt == null)));
                output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: kill -9 {pid} after {sender.Accepted} accepted deliveries; " +
                                 $"{settled} invoices settled, {pending} events waiting");
                await server.DisposeAsync();
                server = await ServeProcess.StartAsync(port, settings);
                output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: restarted as {server.Pid}");
            }
            await sending;
            Assert.Equal(deliveries.Count, sender.Accepted);
            Assert.True(sender.FailedAttempts > 0, "no delivery was cut off by the kills: the test did not test anything");
            output.WriteLine($"{sender.FailedAttempts} deliveries failed and were retried; answers: " +
                             string.Join(", ", sender.Statuses.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}×{kv.Value}")));

            await Eventually.HoldsAsync(
                () => FaultDb.QueryAsync(database, async db =>
                    !await db.PaymentEvents.AnyAsync(e => e.ProcessedAt == null) && !await db.OutboxMessages.AnyAsync(m => m.CompletedAt == null)),
                TimeSpan.FromSeconds(180),
                () => FaultDb.QueryAsync(database, async db =>
                    $"{await db.PaymentEvents.CountAsync(e => e.ProcessedAt == null)} events unprocessed, " +
                    $"{await db.OutboxMessages.CountAsync(m => m.CompletedAt == null)} outbox messages pending\n{server.Output}"));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: everything settled and dispatched");

            await using var db = FaultDb.Open(database);
            await Sales.AssertSettledOnceAsync(db, sales);
            // Events from the intake only: settlement records its own ("btcpay:…"), and so does the reconciliation that every
            // restart runs at once ("reconcile:…").
            Assert.Equal(2 * sales.Count, await db.PaymentEvents.CountAsync(e =>
                e.Provider == "btcpay" && !e.EventId.StartsWith("btcpay:") && !e.EventId.StartsWith("reconcile:")));
            Assert.True(await db.OutboxMessages.CountAsync() >= 2 * sales.Count);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
