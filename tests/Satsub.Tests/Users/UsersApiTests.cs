using System.Net;
using Microsoft.EntityFrameworkCore;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Users;

public sealed class UsersApiTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    private const string Users = "/api/v1/users";

    [Fact]
    public async Task Create_WebsiteUser_Returns201WithLocationAndReferralLink()
    {
        var name = "alice-" + Guid.NewGuid().ToString("N")[..8];
        var response = await app.Admin().PostAsync(Users, Http.Json(new { username = name, platform = "website" }));

        var json = await response.AssertStatusAsync(201);
        var id = json.Str("user_id");
        Assert.Equal($"/api/v1/users/{id}", response.Headers.Location?.ToString());
        Assert.Equal(name, json.Str("username"));
        Assert.Equal("website", json.Str("platform"));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, json.GetProperty("referrer_id").ValueKind);
        Assert.Matches("^[0-9a-z]{10}$", json.Str("referral_code"));
        Assert.EndsWith(json.Str("referral_code"), json.Str("referral_link"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_SameWebsiteUsernameTwice_Is409()
    {
        var name = "bob-" + Guid.NewGuid().ToString("N")[..8];
        await (await app.Admin().PostAsync(Users, Http.Json(new { username = name, platform = "website" }))).AssertStatusAsync(201);
        var again = await app.Admin().PostAsync(Users, Http.Json(new { username = name, platform = "website" }));
        await again.AssertProblemAsync(409, "username_taken");
    }

    [Fact]
    public async Task Create_SameTelegramUserTwice_ReturnsTheSameUserWith200()
    {
        var externalId = Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var first = await (await app.Admin().PostAsync(Users, Http.Json(new { platform = "telegram", external_id = externalId, username = "same" }))).AssertStatusAsync(201);
        var second = await app.Admin().PostAsync(Users, Http.Json(new { platform = "telegram", external_id = externalId, username = "renamed" }));
        var json = await second.AssertStatusAsync(200);
        Assert.Equal(first.Str("user_id"), json.Str("user_id"));
    }

    [Fact]
    public async Task Create_WithReferralByCodeOrId_SetsTheReferrer()
    {
        var referrer = await app.RegisterAsync("website");
        var byCode = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var byId = await app.RegisterAsync("discord", referrer.Str("user_id"));
        Assert.Equal(referrer.Str("user_id"), byCode.Str("referrer_id"));
        Assert.Equal(referrer.Str("user_id"), byId.Str("referrer_id"));
    }

    [Theory]
    [InlineData("{\"platform\":\"telegram\",\"external_id\":\"1\",\"referral_id\":\"nosuchcode\"}", 422, "unknown_referrer")]
    [InlineData("{\"platform\":\"telegram\",\"external_id\":\"2\",\"referral_id\":\"00000000-0000-0000-0000-000000000001\"}", 422, "unknown_referrer")]
    [InlineData("{\"platform\":\"telegram\",\"username\":\"x\"}", 400, "external_id_required")]
    [InlineData("{\"platform\":\"website\"}", 400, "username_required")]
    [InlineData("{\"username\":\"x\"}", 400, "validation_failed")]
    [InlineData("{\"platform\":\"Not A Platform!\",\"username\":\"x\"}", 400, "invalid_platform")]
    [InlineData("{\"platform\":\"website\",\"username\":\"a\\u0000b\"}", 400, "validation_failed")]
    [InlineData("{\"platform\":\"website\",\"username\":5}", 400, "invalid_json")]
    [InlineData("{\"platform\":\"website\",", 400, "invalid_json")]
    [InlineData("[]", 400, "invalid_json")]
    public async Task Create_WithBadInput_IsAProblem(string body, int status, string code)
    {
        var response = await app.Admin().PostAsync(Users, Http.Json(body));
        await response.AssertProblemAsync(status, code);
    }

    [Fact]
    public async Task Create_WithTooLongUsername_NamesTheField()
    {
        var response = await app.Admin().PostAsync(Users, Http.Json(new { platform = "website", username = new string('x', 65) }));
        var problem = await response.AssertProblemAsync(400, "validation_failed");
        Assert.True(problem.GetProperty("errors").TryGetProperty("username", out _));
    }

    [Fact]
    public async Task Create_WithPlatformKey_UsesItsPlatformAndRefusesOthers()
    {
        var website = app.Client(await app.CreateKeyAsync("website"));
        var own = await website.PostAsync(Users, Http.Json(new { username = "w-" + Guid.NewGuid().ToString("N")[..8] }));
        Assert.Equal("website", (await own.AssertStatusAsync(201)).Str("platform"));

        var other = await website.PostAsync(Users, Http.Json(new { platform = "telegram", external_id = "77" }));
        await other.AssertProblemAsync(403, "forbidden");
    }

    [Fact]
    public async Task Get_ReturnsProfileBalancesAndReferrals()
    {
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        await app.RegisterAsync("telegram", referrer.Str("user_id")); // a referral who never pays
        var sub = await app.BuyAsync(buyer.Str("user_id"), "basic");
        await app.SettleAsync(sub.GetProperty("invoice").Str("invoice_id"));

        var profile = await (await app.Admin().GetAsync($"{Users}/{referrer.Str("user_id")}")).AssertStatusAsync(200);

        Assert.Equal(referrer.Str("user_id"), profile.Str("user_id"));
        Assert.Equal(5_000, profile.GetProperty("balance").Long("pending_sats"));
        Assert.Equal(0, profile.GetProperty("balance").Long("available_sats"));
        Assert.Equal(0, profile.GetProperty("balance").Long("paid_out_sats"));
        Assert.Equal(5_000, profile.Long("earnings_total_sats"));
        Assert.Equal(2, profile.GetProperty("referrals").GetProperty("count").GetInt32());
        Assert.Equal(1, profile.GetProperty("referrals").GetProperty("paying").GetInt32());
        Assert.Equal(0, profile.GetProperty("subscriptions").GetArrayLength());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, profile.GetProperty("tier").ValueKind);
        Assert.True(profile.GetProperty("rank").GetInt32() >= 1, "a referrer with a paying referral is ranked");

        var buyerProfile = await (await app.Admin().GetAsync($"{Users}/{buyer.Str("user_id")}")).AssertStatusAsync(200);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, buyerProfile.GetProperty("rank").ValueKind); // no referrals: no rank
        var active = Assert.Single(buyerProfile.GetProperty("subscriptions").EnumerateArray());
        Assert.Equal("basic", active.Str("type"));
        Assert.Equal("active", active.Str("status"));
    }

    [Theory]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    [InlineData("not-an-id")]
    [InlineData("%F0%9F%92%A9")]
    public async Task Get_Unknown_Is404(string id)
    {
        var response = await app.Admin().GetAsync($"{Users}/{id}");
        await response.AssertProblemAsync(404, "user_not_found");
    }

    [Fact]
    public async Task Get_OtherPlatformsUser_Is404NotForbidden()
    {
        var telegramUser = await app.RegisterAsync("telegram");
        var website = app.Client(await app.CreateKeyAsync("website"));
        await (await website.GetAsync($"{Users}/{telegramUser.Str("user_id")}")).AssertProblemAsync(404, "user_not_found");
        var telegram = app.Client(await app.CreateKeyAsync("telegram"));
        await (await telegram.GetAsync($"{Users}/{telegramUser.Str("user_id")}")).AssertStatusAsync(200);
    }

    [Fact]
    public async Task Find_ByExternalIdOrUsername()
    {
        var tg = await app.RegisterAsync("telegram");
        var externalId = await app.DbAsync(db => db.Users.Where(u => u.Id == Guid.Parse(tg.Str("user_id"))).Select(u => u.ExternalId).SingleAsync());
        var found = await (await app.Admin().GetAsync($"{Users}?platform=telegram&external_id={externalId}")).AssertStatusAsync(200);
        Assert.Equal(tg.Str("user_id"), found.Str("user_id"));

        var web = await app.RegisterAsync("website");
        var byName = await (await app.Admin().GetAsync($"{Users}?platform=website&username={web.Str("username")}")).AssertStatusAsync(200);
        Assert.Equal(web.Str("user_id"), byName.Str("user_id"));

        await (await app.Admin().GetAsync($"{Users}?platform=website&username=nobody-at-all")).AssertProblemAsync(404, "user_not_found");
        await (await app.Admin().GetAsync($"{Users}?external_id=1")).AssertProblemAsync(400, "validation_failed");
        await (await app.Admin().GetAsync($"{Users}?platform=telegram")).AssertProblemAsync(400, "validation_failed");
        var website = app.Client(await app.CreateKeyAsync("website"));
        await (await website.GetAsync($"{Users}?platform=telegram&external_id={externalId}")).AssertProblemAsync(404, "user_not_found");
    }

    [Fact]
    public async Task Referrals_ArePagedWithACursor()
    {
        var referrer = await app.RegisterAsync("website");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++) ids.Add((await app.RegisterAsync("telegram", referrer.Str("referral_code"))).Str("user_id"));
        var sub = await app.BuyAsync(ids[1]);
        await app.SettleAsync(sub.GetProperty("invoice").Str("invoice_id"));

        var first = await (await app.Admin().GetAsync($"{Users}/{referrer.Str("user_id")}/referrals?limit=2")).AssertStatusAsync(200);
        Assert.Equal(2, first.GetProperty("items").GetArrayLength());
        var cursor = first.Str("next_cursor");
        var second = await (await app.Admin().GetAsync($"{Users}/{referrer.Str("user_id")}/referrals?limit=2&cursor={cursor}")).AssertStatusAsync(200);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);

        var items = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray()).ToList();
        Assert.Equal(ids, items.Select(i => i.Str("user_id")));
        Assert.Equal([false, true, false], items.Select(i => i.GetProperty("paying").GetBoolean()));

        await (await app.Admin().GetAsync($"{Users}/{referrer.Str("user_id")}/referrals?limit=101")).AssertProblemAsync(400, "validation_failed");
        await (await app.Admin().GetAsync($"{Users}/{referrer.Str("user_id")}/referrals?limit=abc")).AssertProblemAsync(400, "validation_failed");
        await (await app.Admin().GetAsync($"{Users}/{referrer.Str("user_id")}/referrals?cursor=%%%")).AssertProblemAsync(400, "validation_failed");
        await (await app.Admin().GetAsync($"{Users}/{Guid.NewGuid()}/referrals")).AssertProblemAsync(404, "user_not_found");
    }

    [Fact]
    public async Task Delete_ErasesPersonalDataAndKeepsTheBooks()
    {
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var sub = await app.BuyAsync(buyer.Str("user_id"));
        await app.SettleAsync(sub.GetProperty("invoice").Str("invoice_id"));
        var id = Guid.Parse(referrer.Str("user_id"));

        var response = await app.Admin().DeleteAsync($"{Users}/{id}");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);

        var stored = await app.DbAsync(db => db.Users.SingleAsync(u => u.Id == id));
        Assert.Null(stored.Username);
        Assert.NotNull(stored.ErasedAt);
        var balance = await app.DbAsync(db => Satsub.Ledger.LedgerBook.AffiliateBalanceAsync(db, id, default));
        Assert.Equal(5_000, balance.Pending.Value);
        await (await app.Admin().GetAsync($"{Users}/{id}")).AssertProblemAsync(404, "user_not_found");
        Assert.Equal(HttpStatusCode.NoContent, (await app.Admin().DeleteAsync($"{Users}/{id}")).StatusCode);
        Assert.True(await app.DbAsync(db => db.AuditEntries.AnyAsync(a => a.Action == "user.erase" && a.Target == id.ToString())));
    }

    [Fact]
    public async Task Delete_ByOwnPlatformKeyWorks_ByAnotherIs404()
    {
        var user = await app.RegisterAsync("website");
        var telegram = app.Client(await app.CreateKeyAsync("telegram"));
        await (await telegram.DeleteAsync($"{Users}/{user.Str("user_id")}")).AssertProblemAsync(404, "user_not_found");
        var website = app.Client(await app.CreateKeyAsync("website"));
        Assert.Equal(HttpStatusCode.NoContent, (await website.DeleteAsync($"{Users}/{user.Str("user_id")}")).StatusCode);
    }
}
