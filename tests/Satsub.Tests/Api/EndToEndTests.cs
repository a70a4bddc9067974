using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Api;

public sealed class SqliteApiFactory : ApiFactory
{
    protected override bool UseSqlite => true;
}

public sealed class EndToEndTests(ApiFactory app) : EndToEnd<ApiFactory>(app);

/// <summary>The same on the embedded default database, which the README's run command uses.</summary>
public sealed class EndToEndTests_Sqlite(SqliteApiFactory app) : EndToEnd<SqliteApiFactory>(app);

/// <summary>The seed's two examples, end to end through the API with platform keys, as an integrator would.</summary>
public abstract class EndToEnd<TFactory>(TFactory app) : IClassFixture<TFactory> where TFactory : ApiFactory
{
    [Fact]
    public async Task WebsiteReferrer_TelegramBuyerBuysPremium_ReferrerEarnsHalfThePrice()
    {
        var website = app.Client(await app.CreateKeyAsync("website", "our website"));
        var telegram = app.Client(await app.CreateKeyAsync("telegram", "our bot"));

        // 1. The referrer registers on the website.
        var referrer = await (await website.PostAsync("/api/v1/users", Http.Json(new { username = "satoshi_fan", platform = "website" }))).AssertStatusAsync(201);

        // 2. The buyer comes to the bot through the referrer's link.
        var buyer = await (await telegram.PostAsync("/api/v1/users", Http.Json(new
        {
            username = "buyer",
            platform = "telegram",
            external_id = "123456789",
            referral_id = referrer.Str("referral_code"),
        }))).AssertStatusAsync(201);
        Assert.Equal(referrer.Str("user_id"), buyer.Str("referrer_id"));

        // 3. The buyer buys premium (the seed's example passes the price in BTC and a refund address).
        var types = await (await telegram.GetAsync("/api/v1/subscriptions/types")).AssertStatusAsync(200);
        var price = types.EnumerateArray().Single(t => t.Str("type") == "premium").Long("price_sats");
        var btc = (price / 100_000_000m).ToString("0.########", System.Globalization.CultureInfo.InvariantCulture);
        var purchase = await (await telegram.PostAsync("/api/v1/subscriptions", Http.Json(new
        {
            user_id = buyer.Str("user_id"),
            subscription_type = "premium",
            payment_data = new { method = "lightning", amount = btc, btc_address = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq" },
        }))).AssertStatusAsync(201);
        Assert.Equal("pending_payment", purchase.Str("status"));
        Assert.Equal(price, purchase.GetProperty("invoice").Long("amount_sats"));

        // 4. The sandbox settles the invoice (in production the provider's webhook does).
        await app.SettleAsync(purchase.GetProperty("invoice").Str("invoice_id"));

        // 5. The buyer's subscription is active; the referrer's pending balance is half the price.
        var subscription = await (await telegram.GetAsync($"/api/v1/subscriptions/{purchase.Str("subscription_id")}")).AssertStatusAsync(200);
        Assert.Equal("active", subscription.Str("status"));
        var profile = await (await website.GetAsync($"/api/v1/users/{referrer.Str("user_id")}")).AssertStatusAsync(200);
        Assert.Equal(price / 2, profile.GetProperty("balance").Long("pending_sats"));
        Assert.Equal(1, profile.GetProperty("referrals").GetProperty("count").GetInt32());
        Assert.Equal(1, profile.GetProperty("referrals").GetProperty("paying").GetInt32());
    }

    [Fact]
    public async Task TwentyParallelDuplicateSettles_GiveOneCommission()
    {
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var invoiceId = (await app.BuyAsync(buyer.Str("user_id"), "premium")).GetProperty("invoice").Str("invoice_id");

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => app.Admin().PostAsync($"/api/v1/admin/invoices/{invoiceId}/settle", null)));

        Assert.All(responses, r => Assert.Equal(200, (int)r.StatusCode));
        Assert.Single((await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()))).Distinct());
        var id = Guid.Parse(invoiceId);
        Assert.Equal(1, await app.DbAsync(db => Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.CountAsync(db.Commissions, c => c.InvoiceId == id)));
    }
}
