using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using NBitcoin;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Payments.Providers.Lnd;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payments.Providers.BitPay;
using Satsub.Tests.Payments.Providers.Lnd;
using Satsub.Tests.Payments.Providers.OpenNode;
using Satsub.Users;

namespace Satsub.Tests.Payments.EndToEnd;

/// <summary>
/// The whole server with each of the other providers: LND (watched, not pushed), OpenNode (HMAC-verified form
/// webhook) and BitPay (unsigned IPN that only triggers a re-fetch; fulfilled on confirmed/complete only).
/// </summary>
public sealed class OtherProvidersEndToEndTests
{
    private static async Task<(User Referrer, Invoice Invoice)> BuyAsync(SatsubServer satsub, PaymentMethod method = PaymentMethod.Lightning)
    {
        var (referrer, _) = await satsub.WithAsync<UserRegistration, (User, bool)>(r => r.RegisterAsync(new RegistrationRequest("website", null, "ref-" + Guid.NewGuid().ToString("N")[..8], null), default));
        var (buyer, _) = await satsub.WithAsync<UserRegistration, (User, bool)>(r => r.RegisterAsync(new RegistrationRequest("discord", Guid.NewGuid().ToString("N")[..12], "buyer", referrer.ReferralCode), default));
        var (_, invoice) = await satsub.WithAsync<PurchaseService, (Subscription, Invoice)>(p => p.StartAsync(buyer.Id, "basic", method, default));
        return (referrer, invoice);
    }

    private static Task<InvoiceStatus> StatusAsync(SatsubServer satsub, Guid id) =>
        satsub.WithAsync<SatsubDbContext, InvoiceStatus>(async db => (await db.Invoices.AsNoTracking().SingleAsync(i => i.Id == id)).Status);

    private static Task<int> PostingsAsync(SatsubServer satsub, Guid id) =>
        satsub.WithAsync<SatsubDbContext, int>(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == id));

    [Fact]
    public async Task Lnd_SettlementIsWatched_AndTheSettleIndexIsStoredWithIt()
    {
        await using var lnd = await FakeLnd.StartAsync();
        await using var satsub = await SatsubServer.StartAsync(new Dictionary<string, string?>
        {
            ["Bitcoin:Network"] = "regtest",
            ["Payments:Provider"] = "lnd",
            ["Payments:Lnd:Url"] = lnd.Url.ToString(),
            ["Payments:Lnd:MacaroonHex"] = FakeLnd.Macaroon,
        });
        var (referrer, invoice) = await BuyAsync(satsub);
        Assert.StartsWith("lnbcrt", invoice.Bolt11, StringComparison.Ordinal);
        await lnd.WaitForSubscriptionsAsync(1);

        var index = lnd.Settle(invoice.ProviderInvoiceId);

        await SatsubServer.EventuallyAsync(async () => await StatusAsync(satsub, invoice.Id) == InvoiceStatus.Settled, because: "the watcher settles it");
        Assert.Equal(1, await PostingsAsync(satsub, invoice.Id));
        Assert.Equal(5000, (await satsub.WithAsync<SatsubDbContext, AffiliateBalance>(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);
        var cursor = await satsub.WithAsync<SatsubDbContext, string?>(db => db.ProviderCursors.Where(c => c.Provider == "lnd" && c.Name == LndSettlementWorker.CursorName).Select(c => c.Value).SingleOrDefaultAsync());
        Assert.Equal(index.ToString(System.Globalization.CultureInfo.InvariantCulture), cursor);
    }

    [Fact]
    public async Task OpenNode_VerifiedWebhookSettles_ForgedOneIsRefused()
    {
        await using var opennode = await FakeOpenNodeServer.StartAsync();
        await using var satsub = await SatsubServer.StartAsync(new Dictionary<string, string?>
        {
            ["Payments:Provider"] = "opennode",
            ["Payments:OpenNode:Url"] = opennode.BaseUrl,
            ["Payments:OpenNode:ApiKey"] = FakeOpenNodeServer.ApiKey,
            ["Payments:OpenNode:CallbackUrl"] = "https://satsub.example/api/v1/webhooks/opennode",
        });
        var (_, invoice) = await BuyAsync(satsub);
        using var http = satsub.CreateClient();

        var forged = FakeOpenNodeServer.WebhookForm(invoice.ProviderInvoiceId, "paid", invoice.Id.ToString(), key: "someone-elses-key");
        using (var response = await http.PostAsync("api/v1/webhooks/opennode", new StringContent(forged, Encoding.UTF8, "application/x-www-form-urlencoded")))
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);

        opennode.Set(invoice.ProviderInvoiceId, "paid");
        var real = FakeOpenNodeServer.WebhookForm(invoice.ProviderInvoiceId, "paid", invoice.Id.ToString());
        for (var i = 0; i < 3; i++)
        {
            using var response = await http.PostAsync("api/v1/webhooks/opennode", new StringContent(real, Encoding.UTF8, "application/x-www-form-urlencoded"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        await SatsubServer.EventuallyAsync(async () => await StatusAsync(satsub, invoice.Id) == InvoiceStatus.Settled);
        Assert.Equal(1, await PostingsAsync(satsub, invoice.Id));
    }

    [Fact]
    public async Task BitPay_UnsignedNotificationOnlyTriggersARefetch_FulfilledOnConfirmedOnly()
    {
        var key = new Key();
        await using var bitpay = await FakeBitPayServer.StartAsync(key.PubKey.ToHex());
        await using var satsub = await SatsubServer.StartAsync(new Dictionary<string, string?>
        {
            ["Payments:Provider"] = "bitpay",
            ["Payments:BitPay:Url"] = bitpay.BaseUrl,
            ["Payments:BitPay:Token"] = FakeBitPayServer.Token,
            ["Payments:BitPay:PrivateKey"] = Convert.ToHexStringLower(key.ToBytes()),
            ["Payments:BitPay:NotificationUrl"] = "https://satsub.example/api/v1/webhooks/bitpay",
        });
        var (_, invoice) = await BuyAsync(satsub);
        using var http = satsub.CreateClient();
        string Ipn(int code, string status) => $$$"""{"event":{"code":{{{code}}},"name":"invoice_{{{status}}}"},"data":{"id":"{{{invoice.ProviderInvoiceId}}}","status":"{{{status}}}"}}""";

        // Someone claims it is confirmed, but BitPay says it is only paid: nothing is fulfilled.
        bitpay.Set(invoice.ProviderInvoiceId, "paid");
        using (var response = await http.PostAsync("api/v1/webhooks/bitpay", new StringContent(Ipn(1005, "confirmed"), Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await SatsubServer.EventuallyAsync(async () => await StatusAsync(satsub, invoice.Id) == InvoiceStatus.Processing);
        Assert.Equal(0, await PostingsAsync(satsub, invoice.Id));

        bitpay.Set(invoice.ProviderInvoiceId, "confirmed");
        using (var response = await http.PostAsync("api/v1/webhooks/bitpay", new StringContent(Ipn(1006, "completed"), Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await SatsubServer.EventuallyAsync(async () => await StatusAsync(satsub, invoice.Id) == InvoiceStatus.Settled);
        Assert.Equal(1, await PostingsAsync(satsub, invoice.Id));
    }
}
