using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payments.Providers.BtcPay;
using Satsub.Users;

namespace Satsub.Tests.Payments.EndToEnd;

/// <summary>
/// Satsub with <c>Payments:Provider=btcpay</c> against a BTCPay stand-in: a sale paid and announced by a signed
/// webhook (and its redelivery, and a forgery), one whose webhook is withheld and is found by reconciliation,
/// and an outage during invoice creation.
/// </summary>
public sealed class BtcPayEndToEndTests : IAsyncLifetime
{
    private FakeBtcPayServer btcpay = null!;
    private SatsubServer satsub = null!;
    private HttpClient http = null!;

    public async Task InitializeAsync()
    {
        btcpay = await FakeBtcPayServer.StartAsync(NBitcoin.Network.RegTest);
        satsub = await SatsubServer.StartAsync(new Dictionary<string, string?>
        {
            ["Bitcoin:Network"] = "regtest",
            ["Payments:Provider"] = "btcpay",
            ["Payments:BtcPay:Url"] = btcpay.Url.ToString(),
            ["Payments:BtcPay:ApiKey"] = btcpay.ApiKey,
            ["Payments:BtcPay:StoreId"] = btcpay.StoreId,
            ["Payments:BtcPay:WebhookSecret"] = btcpay.WebhookSecret,
            ["Payments:ReconcileIntervalSeconds"] = "5",
        });
        http = satsub.CreateClient();
    }

    public async Task DisposeAsync()
    {
        http.Dispose();
        await satsub.DisposeAsync();
        await btcpay.DisposeAsync();
    }

    private async Task<(User Referrer, User Buyer)> UsersAsync()
    {
        var (referrer, _) = await satsub.WithAsync<UserRegistration, (User, bool)>(r => r.RegisterAsync(new RegistrationRequest("website", null, "ref-" + Guid.NewGuid().ToString("N")[..8], null), default));
        var (buyer, _) = await satsub.WithAsync<UserRegistration, (User, bool)>(r => r.RegisterAsync(new RegistrationRequest("telegram", Guid.NewGuid().ToString("N")[..12], "buyer", referrer.ReferralCode), default));
        return (referrer, buyer);
    }

    private Task<(Subscription, Invoice)> BuyAsync(Guid buyer, PaymentMethod method = PaymentMethod.Lightning) =>
        satsub.WithAsync<PurchaseService, (Subscription, Invoice)>(p => p.StartAsync(buyer, "premium", method, default));

    private Task<T> DbAsync<T>(Func<SatsubDbContext, Task<T>> q) => satsub.WithAsync(q);

    private void PayAtBtcPay(Invoice invoice, string method = "BTC-LN")
    {
        btcpay.Pay(invoice.ProviderInvoiceId, invoice.AmountSats / 100_000_000m, method);
        btcpay.SetStatus(invoice.ProviderInvoiceId, "Settled");
    }

    [Fact]
    public async Task SignedWebhook_SettlesOnce_RedeliveryChangesNothing_ForgeryIsRefused()
    {
        var (referrer, buyer) = await UsersAsync();
        var (_, invoice) = await BuyAsync(buyer.Id);
        Assert.Equal("btcpay", invoice.Provider);
        Assert.StartsWith("lnbcrt", invoice.Bolt11, StringComparison.Ordinal);

        // A forgery first: the right shape, the wrong key.
        var forged = btcpay.CreateWebhook("InvoiceSettled", invoice.ProviderInvoiceId);
        var forgedHeaders = new Dictionary<string, string>(forged.Headers) { ["BTCPay-Sig"] = FakeBtcPayServer.Signature(forged.Body, "not-the-secret") };
        using (var response = await FakeBtcPayServer.SendWebhookAsync(http, new Uri(satsub.BaseUri, "api/v1/webhooks/btcpay"), forged with { Headers = forgedHeaders }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal(0, await DbAsync(db => db.PaymentEvents.CountAsync(e => e.Provider == "btcpay")));

        PayAtBtcPay(invoice);
        var delivery = btcpay.CreateWebhook("InvoiceSettled", invoice.ProviderInvoiceId);
        using (var response = await FakeBtcPayServer.SendWebhookAsync(http, new Uri(satsub.BaseUri, "api/v1/webhooks/btcpay"), delivery))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await SatsubServer.EventuallyAsync(async () => (await DbAsync(db => db.Invoices.SingleAsync(i => i.Id == invoice.Id))).Status == InvoiceStatus.Settled,
            because: "the inbox worker settles the invoice");

        using (var response = await FakeBtcPayServer.SendWebhookAsync(http, new Uri(satsub.BaseUri, "api/v1/webhooks/btcpay"), btcpay.Redeliver(delivery)))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Task.Delay(1500);

        Assert.Equal(1, await DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
        Assert.Equal(new Sats(12_500), (await DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending);
        var sub = await DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == invoice.SubscriptionId));
        Assert.Equal(SubscriptionStatus.Active, sub.Status);
    }

    [Fact]
    public async Task ThroughTheRestApi_AnInvoiceIsBtcPaysOwnAndTheWebhookActivatesTheSubscription()
    {
        var (_, key) = await satsub.WithAsync<Satsub.ApiKeys.ApiKeyService, (Satsub.ApiKeys.ApiKey, string)>(k => k.CreateAsync("e2e", "admin", default));
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        var (referrer, buyer) = await UsersAsync();

        using var created = await http.PostAsJsonAsync("api/v1/subscriptions",
            new { user_id = buyer.Id.ToString(), subscription_type = "premium", payment_data = new { method = "lightning" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var invoice = body.GetProperty("invoice");
        Assert.Equal("btcpay", invoice.GetProperty("provider").GetString());
        Assert.Equal(25_000, invoice.GetProperty("amount_sats").GetInt64()); // the demo plan of appsettings.json
        var stored = await DbAsync(db => db.Invoices.SingleAsync(i => i.Id == Guid.Parse(invoice.GetProperty("invoice_id").GetString()!)));
        // Shown to the buyer exactly as BTCPay returned it.
        Assert.Equal(btcpay.Invoice(stored.ProviderInvoiceId).Methods.Single(m => m.PaymentMethodId == "BTC-LN").Destination, invoice.GetProperty("bolt11").GetString());

        PayAtBtcPay(stored);
        using (var response = await FakeBtcPayServer.SendWebhookAsync(http, new Uri(satsub.BaseUri, "api/v1/webhooks/btcpay"),
            btcpay.CreateWebhook("InvoiceSettled", stored.ProviderInvoiceId)))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var subscriptionUri = $"api/v1/subscriptions/{body.GetProperty("subscription_id").GetString()}";
        await SatsubServer.EventuallyAsync(async () =>
            (await http.GetFromJsonAsync<System.Text.Json.JsonElement>(subscriptionUri)).GetProperty("status").GetString() == "active");
        var referrerView = await http.GetFromJsonAsync<System.Text.Json.JsonElement>($"api/v1/users/{referrer.Id}");
        Assert.Equal(12_500, referrerView.GetProperty("balance").GetProperty("pending_sats").GetInt64());
    }

    [Fact]
    public async Task WithheldWebhook_IsFoundByReconciliation_AndSettledOnce()
    {
        var (referrer, buyer) = await UsersAsync();
        var (_, invoice) = await BuyAsync(buyer.Id, PaymentMethod.Onchain);
        Assert.StartsWith("bcrt1", invoice.Address, StringComparison.Ordinal);

        PayAtBtcPay(invoice, "BTC-CHAIN");

        await SatsubServer.EventuallyAsync(async () => (await DbAsync(db => db.Invoices.SingleAsync(i => i.Id == invoice.Id))).Status == InvoiceStatus.Settled,
            TimeSpan.FromSeconds(30), "reconciliation (every 5 s) settles the paid invoice");
        await Task.Delay(6000); // one more reconciliation pass
        Assert.Equal(1, await DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
        Assert.Equal(new Sats(12_500), (await DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending);
    }

    [Fact]
    public async Task ProviderOutage_DuringInvoiceCreation_Is503AndLeavesNothingHalfCreated()
    {
        var (_, buyer) = await UsersAsync();
        var before = await DbAsync(db => db.Invoices.CountAsync());
        btcpay.FailNext(HttpStatusCode.InternalServerError, """{"code":"generic-error","message":"boom"}""");

        var ex = await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => BuyAsync(buyer.Id));
        Assert.Equal(503, ex.Status);
        Assert.Equal(before, await DbAsync(db => db.Invoices.CountAsync()));
        Assert.Equal(0, await DbAsync(db => db.Subscriptions.CountAsync(s => s.UserId == buyer.Id)));
    }
}
