using System.Text;
using Microsoft.EntityFrameworkCore;
using Satsub.Payments;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payments;

public sealed class GenericWebhookApiTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    private const string Webhook = "/api/v1/webhook/payment";

    public static HttpRequestMessage Signed(string body, string? signature = null) => new(HttpMethod.Post, Webhook)
    {
        Content = new StringContent(body, Encoding.UTF8, "application/json"),
        Headers = { { GenericWebhookApi.SignatureHeader, signature ?? GenericWebhookApi.Sign(ApiFactory.WebhookSecret, Encoding.UTF8.GetBytes(body)) } },
    };

    private static string Body(string userId, string transactionId, long amount = 10_000, string plan = "basic") =>
        $"{{\"user_id\":\"{userId}\",\"subscription_type\":\"{plan}\",\"transaction_id\":\"{transactionId}\",\"amount_sats\":{amount}}}";

    [Fact]
    public async Task Payment_Signed_SettlesOnceAndSplitsWithTheReferrer()
    {
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var tx = "tx-" + Guid.NewGuid();
        var client = app.Client(null);

        var first = await (await client.SendAsync(Signed(Body(buyer.Str("user_id"), tx)))).AssertStatusAsync(200);
        var second = await (await client.SendAsync(Signed(Body(buyer.Str("user_id"), tx)))).AssertStatusAsync(200);

        Assert.Equal("settled", first.Str("status"));
        Assert.False(first.GetProperty("replayed").GetBoolean());
        Assert.True(second.GetProperty("replayed").GetBoolean());
        Assert.Equal(first.Str("invoice_id"), second.Str("invoice_id"));
        Assert.Equal(1, await app.DbAsync(db => db.Invoices.CountAsync(i => i.Provider == "generic" && i.ProviderInvoiceId == tx)));
        Assert.Equal(1, await app.DbAsync(db => db.PaymentEvents.CountAsync(e => e.Provider == "generic" && e.EventId == tx)));
        var referrerId = Guid.Parse(referrer.Str("user_id"));
        var balance = await app.DbAsync(db => Satsub.Ledger.LedgerBook.AffiliateBalanceAsync(db, referrerId, default));
        Assert.Equal(5_000, balance.Pending.Value);
        var sub = await (await app.Admin().GetAsync($"/api/v1/subscriptions/{first.Str("subscription_id")}")).AssertStatusAsync(200);
        Assert.Equal("active", sub.Str("status"));
    }

    [Fact]
    public async Task Payment_DeliveredConcurrently_CreatesOneInvoiceAndOneCommission()
    {
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var tx = "tx-" + Guid.NewGuid();
        var client = app.Client(null);

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.SendAsync(Signed(Body(buyer.Str("user_id"), tx)))));

        Assert.All(responses, r => Assert.Equal(200, (int)r.StatusCode));
        Assert.Equal(1, await app.DbAsync(db => db.Invoices.CountAsync(i => i.ProviderInvoiceId == tx)));
        var invoiceId = await app.DbAsync(db => db.Invoices.Where(i => i.ProviderInvoiceId == tx).Select(i => i.Id).SingleAsync());
        Assert.Equal(1, await app.DbAsync(db => db.Commissions.CountAsync(c => c.InvoiceId == invoiceId)));
        Assert.Equal(1, await app.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoiceId)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sha256=")]
    [InlineData("sha256=zz")]
    [InlineData("sha256=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("md5=0000")]
    public async Task Payment_WithoutAValidSignature_Is401AndChangesNothing(string? signature)
    {
        var buyer = await app.RegisterAsync();
        var tx = "tx-" + Guid.NewGuid();
        var request = Signed(Body(buyer.Str("user_id"), tx), signature ?? "");
        if (signature is null) request.Headers.Remove(GenericWebhookApi.SignatureHeader);

        await (await app.Client(null).SendAsync(request)).AssertProblemAsync(401, "invalid_signature");
        Assert.False(await app.DbAsync(db => db.PaymentEvents.AnyAsync(e => e.EventId == tx)));
        Assert.False(await app.DbAsync(db => db.Invoices.AnyAsync(i => i.ProviderInvoiceId == tx)));
    }

    [Fact]
    public async Task Payment_SignedWithAnotherSecret_Is401()
    {
        var buyer = await app.RegisterAsync();
        var body = Body(buyer.Str("user_id"), "tx-" + Guid.NewGuid());
        var request = Signed(body, GenericWebhookApi.Sign("another-secret", Encoding.UTF8.GetBytes(body)));
        await (await app.Client(null).SendAsync(request)).AssertProblemAsync(401, "invalid_signature");
    }

    [Fact]
    public async Task Payment_WithWrongAmount_IsRecordedAnd422AndActivatesNothing()
    {
        var buyer = await app.RegisterAsync();
        var tx = "tx-" + Guid.NewGuid();
        var client = app.Client(null);

        await (await client.SendAsync(Signed(Body(buyer.Str("user_id"), tx, amount: 9_999)))).AssertProblemAsync(422, "amount_mismatch");
        await (await client.SendAsync(Signed(Body(buyer.Str("user_id"), tx, amount: 9_999)))).AssertProblemAsync(422, "amount_mismatch");

        var recorded = await app.DbAsync(db => db.PaymentEvents.SingleAsync(e => e.Provider == "generic" && e.EventId == tx));
        Assert.StartsWith("amount_mismatch", recorded.Outcome, StringComparison.Ordinal);
        Assert.False(await app.DbAsync(db => db.Invoices.AnyAsync(i => i.ProviderInvoiceId == tx)));
        var userId = Guid.Parse(buyer.Str("user_id"));
        Assert.False(await app.DbAsync(db => db.Subscriptions.AnyAsync(s => s.UserId == userId)));
    }

    [Theory]
    [InlineData("{\"user_id\":", 400, "invalid_json")]
    [InlineData("[1,2]", 400, "invalid_json")]
    [InlineData("{\"amount_sats\":\"10000\"}", 400, "invalid_json")]
    [InlineData("{\"amount_sats\":99999999999999999999}", 400, "invalid_json")]
    [InlineData("{}", 400, "validation_failed")]
    [InlineData("null", 400, "validation_failed")]
    [InlineData("{\"user_id\":\"00000000-0000-0000-0000-000000000001\",\"subscription_type\":\"basic\",\"transaction_id\":\"t\",\"amount_sats\":10000}", 422, "unknown_user")]
    [InlineData("{\"user_id\":\"00000000-0000-0000-0000-000000000001\",\"subscription_type\":\"basic\",\"transaction_id\":\"t\",\"amount_sats\":-5}", 400, "validation_failed")]
    public async Task Payment_SignedButMalformed_IsAProblem(string body, int status, string code)
    {
        await (await app.Client(null).SendAsync(Signed(body))).AssertProblemAsync(status, code);
    }

    [Fact]
    public async Task Payment_ForUnknownPlan_Is422()
    {
        var buyer = await app.RegisterAsync();
        await (await app.Client(null).SendAsync(Signed(Body(buyer.Str("user_id"), "tx-" + Guid.NewGuid(), plan: "gold")))).AssertProblemAsync(422, "unknown_plan");
    }

    [Fact]
    public async Task Payment_ReplayedWithAnotherUser_IsRefused()
    {
        var buyer = await app.RegisterAsync();
        var other = await app.RegisterAsync();
        var tx = "tx-" + Guid.NewGuid();
        await (await app.Client(null).SendAsync(Signed(Body(buyer.Str("user_id"), tx)))).AssertStatusAsync(200);
        await (await app.Client(null).SendAsync(Signed(Body(other.Str("user_id"), tx)))).AssertProblemAsync(422, "transaction_mismatch");
    }
}

/// <summary>The generic webhook is off until Payments:Generic:Secret is set.</summary>
public sealed class NoSecretFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Payments:Generic:Secret"] = "" };
}

public sealed class GenericWebhookWithoutSecretTests(NoSecretFactory app) : IClassFixture<NoSecretFactory>
{
    [Fact]
    public async Task Payment_WhileNoSecretIsConfigured_Is404()
    {
        var request = GenericWebhookApiTests.Signed("{}");
        await (await app.Client(null).SendAsync(request)).AssertProblemAsync(404, "not_found");
    }
}
