using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payments.Providers.BtcPay;
using Xunit.Abstractions;

namespace Satsub.Tests.Faults;

/// <summary>
/// 10,000 signed BTCPay webhooks for 1,000 paid invoices — every event redelivered several times, all shuffled — from
/// 32 concurrent senders against the real server over HTTP on PostgreSQL: exactly 1,000 settlements.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class WebhookStormTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Invoices = 1_000;
    private FakeBtcPayServer btcpay = null!;
    private SatsubServer satsub = null!;

    public async Task InitializeAsync()
    {
        btcpay = await FakeBtcPayServer.StartAsync(NBitcoin.Network.RegTest);
        var settings = BtcPaySettings.For(btcpay);
        settings["Logging:LogLevel:Default"] = "Warning";
        satsub = await SatsubServer.StartAsync(settings.Nullable());
    }

    public async Task DisposeAsync()
    {
        await satsub.DisposeAsync();
        await btcpay.DisposeAsync();
    }

    [Fact]
    public async Task TenThousandDuplicatedShuffledWebhooks_From32Senders_SettleAThousandInvoicesExactlyOnce()
    {
        var rng = new Random(20_261_128);
        var sales = await Sales.OpenAsync(satsub.Services, rng, buyers: 400, invoices: Invoices);
        Assert.Equal(Invoices, sales.Count);
        Sales.PayAll(btcpay, sales);
        // Per invoice: 3 distinct events, 10 deliveries.
        var deliveries = Sales.Deliveries(btcpay, sales, rng, ("InvoiceReceivedPayment", 2), ("InvoicePaymentSettled", 3), ("InvoiceSettled", 5));
        Assert.Equal(10_000, deliveries.Count);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var sender = new WebhookSender(http, new Uri(satsub.BaseUri, "api/v1/webhooks/btcpay"));
        var clock = Stopwatch.StartNew();
        await sender.SendAllAsync(deliveries, senders: 32, retryDelay: TimeSpan.FromMilliseconds(100), within: TimeSpan.FromSeconds(240));
        var sent = clock.Elapsed;
        Assert.Equal(10_000, sender.Accepted);
        Assert.Equal(0, sender.FailedAttempts); // the intake never refuses an authentic delivery

        var connection = satsub.Services.GetRequiredService<IConfiguration>().GetConnectionString("Satsub")!;
        await Eventually.HoldsAsync(
            () => FaultDb.QueryAsync(connection, async db => !await db.PaymentEvents.AnyAsync(e => e.ProcessedAt == null)),
            TimeSpan.FromSeconds(240),
            () => FaultDb.QueryAsync(connection, async db => $"{await db.PaymentEvents.CountAsync(e => e.ProcessedAt == null)} events still unprocessed"));
        output.WriteLine($"10,000 deliveries accepted in {sent.TotalSeconds:F1} s; all settled after {clock.Elapsed.TotalSeconds:F1} s");

        await using var db = FaultDb.Open(connection);
        // The intake records each distinct event once (settlement also records its own, prefixed with the provider, and a
        // reconciliation pass that happens to run during the storm records what it read, prefixed "reconcile:").
        Assert.Equal(3 * Invoices, await db.PaymentEvents.CountAsync(e => e.Provider == "btcpay" && !e.EventId.StartsWith("btcpay:") && !e.EventId.StartsWith("reconcile:")));
        Assert.Equal(Invoices, await db.LedgerPostings.CountAsync(p => p.Kind == "sale"));
        await Sales.AssertSettledOnceAsync(db, sales);
    }
}
