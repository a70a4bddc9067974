using System.Net.Http.Json;
using Satsub.Tests.Api;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Users;

public sealed class ProfilePathsTests(ApiFactory app) : ProfilePaths<ApiFactory>(app);

public sealed class ProfilePathsTests_Sqlite(SqliteApiFactory app) : ProfilePaths<SqliteApiFactory>(app);

/// <summary>
/// A profile read by id takes the user and their standing in one query (<c>AffiliateStandings.UserWithProfileAsync</c>);
/// found by platform id, and after a change, it takes the user entity and then the standing. The three must agree on
/// every field, on both databases (timestamps, names, flags, balances, counts, place).
/// </summary>
public abstract class ProfilePaths<TFactory>(TFactory app) : IClassFixture<TFactory> where TFactory : ApiFactory
{
    [Fact]
    public async Task ById_ByPlatformId_AndAfterAChange_AreTheSameProfile()
    {
        var referrer = await app.RegisterAsync("telegram");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var sub = await app.BuyAsync(buyer.Str("user_id"), "basic");
        await app.SettleAsync(sub.GetProperty("invoice").Str("invoice_id"));
        var second = await app.BuyAsync(buyer.Str("user_id"), "premium");
        await app.SettleAsync(second.GetProperty("invoice").Str("invoice_id"));
        var id = referrer.Str("user_id");

        var patched = await (await app.Admin().PatchAsync($"/api/v1/users/{id}", JsonContent.Create(new { display_name = "Satoshi's friend" })))
            .AssertStatusAsync(200);
        var byId = await (await app.Admin().GetAsync($"/api/v1/users/{id}")).AssertStatusAsync(200);
        var byPlatformId = await (await app.Admin().GetAsync($"/api/v1/users?platform=telegram&external_id={referrer.Str("external_id")}")).AssertStatusAsync(200);

        Assert.Equal(patched.GetRawText(), byId.GetRawText());
        Assert.Equal(byPlatformId.GetRawText(), byId.GetRawText());
        Assert.Equal("Satoshi's friend", byId.Str("display_name"));
        Assert.True(byId.GetProperty("balance").Long("pending_sats") > 5_000); // half of both sales
        Assert.Equal(referrer.Str("referral_code"), byId.Str("referral_code"));
        Assert.True(byId.GetProperty("rank").GetInt32() >= 1);

        var buyerById = await (await app.Admin().GetAsync($"/api/v1/users/{buyer.Str("user_id")}")).AssertStatusAsync(200);
        var buyerByPlatformId = await (await app.Admin().GetAsync($"/api/v1/users?platform=telegram&external_id={buyer.Str("external_id")}")).AssertStatusAsync(200);
        Assert.Equal(buyerByPlatformId.GetRawText(), buyerById.GetRawText());
        Assert.Equal(id, buyerById.Str("referrer_id"));
        Assert.Equal(["basic", "premium"], buyerById.GetProperty("subscriptions").EnumerateArray().Select(x => x.Str("type")).Order().ToArray());
        Assert.All(buyerById.GetProperty("subscriptions").EnumerateArray(), x => Assert.Equal("active", x.Str("status")));
    }
}
