using Microsoft.EntityFrameworkCore;
using Satsub.Ledger;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Refunds;

public sealed class RefundsApiTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    private async Task<(string InvoiceId, string AffiliateId, string SubscriptionId)> SaleAsync()
    {
        var affiliate = await app.RegisterAsync();
        var buyer = await app.RegisterAsync(referral: affiliate.Str("referral_code"));
        var sub = await app.BuyAsync(buyer.Str("user_id"));
        var invoiceId = sub.GetProperty("invoice").Str("invoice_id");
        await app.SettleAsync(invoiceId);
        return (invoiceId, affiliate.Str("user_id"), sub.Str("subscription_id"));
    }

    private Task<HttpResponseMessage> RefundAsync(string invoiceId, string? key = null, object? body = null) =>
        app.Client(key ?? app.AdminKey).PostAsync($"/api/v1/admin/invoices/{invoiceId}/refund", Http.Json(body ?? new { reason = "customer asked" }));

    [Fact]
    public async Task Refund_ReversesTheCommission_AndAReplayAnswersTheSameRefund()
    {
        var sale = await SaleAsync();

        var first = await RefundAsync(sale.InvoiceId);
        var body = await first.AssertStatusAsync(200);
        var second = await RefundAsync(sale.InvoiceId);
        var again = await second.AssertStatusAsync(200);

        Assert.Equal(sale.InvoiceId, body.Str("invoice_id"));
        Assert.Equal(10_000, body.Long("amount_sats"));
        Assert.Equal(5_000, body.Long("commission_reversed_sats"));
        Assert.False(body.GetProperty("clawed_back").GetBoolean());
        Assert.Equal(body.Str("refund_id"), again.Str("refund_id"));
        Assert.Equal(body.GetRawText(), again.GetRawText());
        Assert.Equal("false", first.Headers.GetValues("Satsub-Replayed").Single());
        Assert.Equal("true", second.Headers.GetValues("Satsub-Replayed").Single());

        var user = await (await app.Admin().GetAsync($"/api/v1/users/{sale.AffiliateId}")).AssertStatusAsync(200);
        Assert.Equal(0, user.GetProperty("balance").Long("pending_sats"));
        var subscription = await app.DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == Guid.Parse(sale.SubscriptionId)));
        Assert.Equal(SubscriptionStatus.Expired, subscription.Status);
        Assert.Equal(1, await app.DbAsync(db => db.Refunds.CountAsync(r => r.InvoiceId == Guid.Parse(sale.InvoiceId))));
        Assert.Empty(await app.DbAsync(db => LedgerBook.UnbalancedPostingsAsync(db, default)));
        Assert.Equal(2, await app.DbAsync(db => db.AuditEntries.CountAsync(a => a.Action == "invoice.refund" && a.Target == sale.InvoiceId)));
    }

    [Fact]
    public async Task Refund_OfAnUnknownOrUnsettledInvoice_IsAProblem()
    {
        await (await RefundAsync(Guid.NewGuid().ToString())).AssertProblemAsync(404, "invoice_not_found");
        await (await RefundAsync("not-an-id")).AssertProblemAsync(404, "invoice_not_found");
        var buyer = await app.RegisterAsync();
        var open = (await app.BuyAsync(buyer.Str("user_id"))).GetProperty("invoice").Str("invoice_id");
        await (await RefundAsync(open)).AssertProblemAsync(409, "invoice_not_settled");
    }

    [Fact]
    public async Task Refund_NeedsAReasonAndTheAdminScope()
    {
        var sale = await SaleAsync();
        await (await RefundAsync(sale.InvoiceId, body: new { reason = " " })).AssertProblemAsync(400, "validation_failed");
        await (await RefundAsync(sale.InvoiceId, body: new { reason = new string('x', 501) })).AssertProblemAsync(400, "validation_failed");
        foreach (var scope in new[] { "telegram", "website" })
            await (await RefundAsync(sale.InvoiceId, await app.CreateKeyAsync(scope))).AssertProblemAsync(403, "forbidden");
        Assert.Equal(0, await app.DbAsync(db => db.Refunds.CountAsync(r => r.InvoiceId == Guid.Parse(sale.InvoiceId))));
    }
}
