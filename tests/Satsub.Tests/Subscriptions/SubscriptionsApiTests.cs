using Microsoft.EntityFrameworkCore;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Subscriptions;

public sealed class SubscriptionsApiTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    private const string Subscriptions = "/api/v1/subscriptions";

    private static object Buy(string userId, string plan = "basic", object? paymentData = null) => new Dictionary<string, object?>
    {
        ["user_id"] = userId,
        ["subscription_type"] = plan,
        ["payment_data"] = paymentData ?? new { method = "lightning" },
    };

    [Fact]
    public async Task Types_ListsTheConfiguredPlans()
    {
        var types = await (await app.Client(await app.CreateKeyAsync("website")).GetAsync($"{Subscriptions}/types")).AssertStatusAsync(200);
        var byType = types.EnumerateArray().ToDictionary(t => t.Str("type"));
        Assert.Equal(10_000, byType["basic"].Long("price_sats"));
        Assert.Equal(25_000, byType["premium"].Long("price_sats"));
        Assert.Equal(30, byType["premium"].GetProperty("duration_days").GetInt32());
        Assert.False(string.IsNullOrEmpty(byType["premium"].Str("name")));
        Assert.True(byType["premium"].TryGetProperty("description", out _));
    }

    [Fact]
    public async Task Create_OpensAPendingSubscriptionWithASandboxInvoice()
    {
        var user = await app.RegisterAsync();
        var response = await app.Admin().PostAsync(Subscriptions, Http.Json(Buy(user.Str("user_id"), "premium", new { method = "onchain", amount = "0.00025" })));

        var json = await response.AssertStatusAsync(201);
        Assert.Equal($"{Subscriptions}/{json.Str("subscription_id")}", response.Headers.Location?.ToString());
        Assert.Equal("pending_payment", json.Str("status"));
        var invoice = json.GetProperty("invoice");
        Assert.Equal("new", invoice.Str("status"));
        Assert.Equal("sandbox", invoice.Str("provider"));
        Assert.Equal("onchain", invoice.Str("method"));
        Assert.Equal(25_000, invoice.Long("amount_sats"));
        Assert.StartsWith("satsub-sandbox:", invoice.Str("payment_uri"), StringComparison.Ordinal);
        Assert.True(invoice.TryGetProperty("expires_at", out _));

        var read = await (await app.Admin().GetAsync($"{Subscriptions}/{json.Str("subscription_id")}")).AssertStatusAsync(200);
        Assert.Equal(invoice.Str("invoice_id"), read.GetProperty("invoice").Str("invoice_id"));
        Assert.Equal("pending_payment", read.Str("status"));
    }

    [Theory]
    [InlineData("0.0001")]
    [InlineData(0.0001)]
    public async Task Create_WithTheRightAmount_IsAccepted(object amount)
    {
        var user = await app.RegisterAsync();
        var response = await app.Admin().PostAsync(Subscriptions, Http.Json(Buy(user.Str("user_id"), "basic", new { method = "lightning", amount })));
        await response.AssertStatusAsync(201);
    }

    [Fact]
    public async Task Create_WithValidRefundAddress_IsAccepted()
    {
        var user = await app.RegisterAsync();
        var data = new { method = "onchain", btc_address = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq" };
        var json = await (await app.Admin().PostAsync(Subscriptions, Http.Json(Buy(user.Str("user_id"), "basic", data)))).AssertStatusAsync(201);
        Assert.Equal(data.btc_address, json.GetProperty("invoice").Str("refund_address"));
        var invoiceId = Guid.Parse(json.GetProperty("invoice").Str("invoice_id"));
        Assert.Equal(data.btc_address, await app.DbAsync(db => db.Invoices.Where(i => i.Id == invoiceId).Select(i => i.RefundAddress).SingleAsync()));
    }

    [Theory]
    [InlineData("{\"method\":\"lightning\",\"amount\":\"0.5\"}", 422, "amount_mismatch")]
    [InlineData("{\"method\":\"lightning\",\"amount\":\"-1\"}", 400, "validation_failed")]
    [InlineData("{\"method\":\"lightning\",\"amount\":\"0.000000001\"}", 400, "validation_failed")]
    [InlineData("{\"method\":\"lightning\",\"amount\":\"lots\"}", 400, "validation_failed")]
    [InlineData("{\"method\":\"lightning\",\"amount\":1e400}", 400, "validation_failed")]
    [InlineData("{\"method\":\"lightning\",\"btc_address\":\"not-an-address\"}", 422, "invalid_btc_address")]
    [InlineData("{\"method\":\"lightning\",\"btc_address\":\"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx\"}", 422, "invalid_btc_address")]
    [InlineData("{\"method\":\"paypal\"}", 400, "validation_failed")]
    [InlineData("{}", 400, "validation_failed")]
    [InlineData("null", 400, "validation_failed")]
    [InlineData("\"lightning\"", 400, "invalid_json")]
    public async Task Create_WithBadPaymentData_IsAProblem(string paymentData, int status, string code)
    {
        var user = await app.RegisterAsync();
        var body = $"{{\"user_id\":\"{user.Str("user_id")}\",\"subscription_type\":\"basic\",\"payment_data\":{paymentData}}}";
        await (await app.Admin().PostAsync(Subscriptions, Http.Json(body))).AssertProblemAsync(status, code);
    }

    [Fact]
    public async Task Create_ForUnknownPlanOrUser_IsAProblem()
    {
        var user = await app.RegisterAsync();
        await (await app.Admin().PostAsync(Subscriptions, Http.Json(Buy(user.Str("user_id"), "platinum")))).AssertProblemAsync(422, "unknown_plan");
        await (await app.Admin().PostAsync(Subscriptions, Http.Json(Buy(Guid.NewGuid().ToString())))).AssertProblemAsync(404, "user_not_found");
        await (await app.Admin().PostAsync(Subscriptions, Http.Json(Buy("nope")))).AssertProblemAsync(404, "user_not_found");
        var website = app.Client(await app.CreateKeyAsync("website"));
        await (await website.PostAsync(Subscriptions, Http.Json(Buy(user.Str("user_id"))))).AssertProblemAsync(404, "user_not_found");
    }

    [Fact]
    public async Task Create_WhileActive_RenewsTheSameSubscriptionAndSettlingExtendsIt()
    {
        var user = await app.RegisterAsync();
        var first = await app.BuyAsync(user.Str("user_id"));
        await app.SettleAsync(first.GetProperty("invoice").Str("invoice_id"));
        var active = await (await app.Admin().GetAsync($"{Subscriptions}/{first.Str("subscription_id")}")).AssertStatusAsync(200);
        var expiry = active.GetProperty("expires_at").GetDateTimeOffset();

        var renewal = await app.BuyAsync(user.Str("user_id"));
        Assert.Equal(first.Str("subscription_id"), renewal.Str("subscription_id"));
        Assert.NotEqual(first.GetProperty("invoice").Str("invoice_id"), renewal.GetProperty("invoice").Str("invoice_id"));
        Assert.Equal("active", renewal.Str("status"));
        await app.SettleAsync(renewal.GetProperty("invoice").Str("invoice_id"));

        var renewed = await (await app.Admin().GetAsync($"{Subscriptions}/{first.Str("subscription_id")}")).AssertStatusAsync(200);
        Assert.Equal(expiry.AddDays(30), renewed.GetProperty("expires_at").GetDateTimeOffset());
        Assert.Equal("settled", renewed.GetProperty("invoice").Str("status"));
    }

    [Fact]
    public async Task Get_UnknownOrOtherPlatforms_Is404()
    {
        await (await app.Admin().GetAsync($"{Subscriptions}/{Guid.NewGuid()}")).AssertProblemAsync(404, "subscription_not_found");
        await (await app.Admin().GetAsync($"{Subscriptions}/xyz")).AssertProblemAsync(404, "subscription_not_found");
        var user = await app.RegisterAsync("telegram");
        var sub = await app.BuyAsync(user.Str("user_id"));
        var website = app.Client(await app.CreateKeyAsync("website"));
        await (await website.GetAsync($"{Subscriptions}/{sub.Str("subscription_id")}")).AssertProblemAsync(404, "subscription_not_found");
    }

    [Fact]
    public async Task Create_NeverTakesThePriceFromTheBody()
    {
        var user = await app.RegisterAsync();
        var body = new Dictionary<string, object?>
        {
            ["user_id"] = user.Str("user_id"),
            ["subscription_type"] = "basic",
            ["amount_sats"] = 1,
            ["price_sats"] = 1,
            ["payment_data"] = new { method = "lightning", amount_sats = 1 },
        };
        var json = await (await app.Admin().PostAsync(Subscriptions, Http.Json(body))).AssertStatusAsync(201);
        var invoiceId = Guid.Parse(json.GetProperty("invoice").Str("invoice_id"));
        Assert.Equal(10_000, await app.DbAsync(db => db.Invoices.Where(i => i.Id == invoiceId).Select(i => i.AmountSats).SingleAsync()));
    }
}
