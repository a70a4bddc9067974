using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Affiliates;
using Satsub.Affiliates.Rating;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Affiliates;

/// <summary>
/// The leaderboard, tier progress and rank in the profile, tier-up events and the commission history, on PostgreSQL.
/// The tests share one database, so they check places relative to each other, never absolute ranks of others.
/// </summary>
public sealed class RatingApiTests(RatingFactory app) : IClassFixture<RatingFactory>
{
    private async Task<string> SaleAsync(string buyerId, string plan = "basic")
    {
        // A second between sales keeps their order (commission ids of one instant are not ordered).
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var sub = await app.BuyAsync(buyerId, plan);
        var invoiceId = sub.GetProperty("invoice").Str("invoice_id");
        await app.SettleAsync(invoiceId);
        return invoiceId;
    }

    /// <summary>An affiliate with <paramref name="customers"/> referred customers, each buying <paramref name="purchasesEach"/> times.</summary>
    private async Task<(string Id, string Username, List<string> Buyers)> AffiliateAsync(int customers, int purchasesEach = 1)
    {
        var affiliate = await app.RegisterAsync();
        var buyers = new List<string>();
        for (var i = 0; i < customers; i++)
        {
            var buyer = (await app.RegisterAsync(referral: affiliate.Str("referral_code"))).Str("user_id");
            buyers.Add(buyer);
            for (var p = 0; p < purchasesEach; p++) await SaleAsync(buyer);
        }
        return (affiliate.Str("user_id"), affiliate.Str("username"), buyers);
    }

    private async Task<JsonElement> BoardAsync(string query = "")
    {
        var response = await app.Admin().GetAsync("/api/v1/leaderboard?limit=100" + query);
        return await response.AssertStatusAsync(200);
    }

    private static JsonElement? Find(JsonElement board, string userId)
    {
        var name = Pseudonyms.Affiliate(Guid.Parse(userId));
        foreach (var item in board.GetProperty("items").EnumerateArray())
            if (item.Str("display_name") == name) return item;
        return null;
    }

    private async Task<JsonElement> ProfileAsync(string userId) =>
        await (await app.Admin().GetAsync($"/api/v1/users/{userId}")).AssertStatusAsync(200);

    private async Task PatchAsync(string userId, object body) =>
        await (await app.Admin().PatchAsync($"/api/v1/users/{userId}", Http.Json(body))).AssertStatusAsync(200);

    [Fact]
    public async Task Leaderboard_OrdersByScoreAndTiesShareARank()
    {
        var two = await AffiliateAsync(2);               // 2 customers: 200
        var oneRenewing = await AffiliateAsync(1, 2);    // 1 customer + 1 renewal: 120
        var tiedA = await AffiliateAsync(1);             // 100
        var tiedB = await AffiliateAsync(1);             // 100

        var board = await BoardAsync();

        var items = board.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal("all", board.Str("period"));
        var a = Find(board, two.Id)!.Value;
        var b = Find(board, oneRenewing.Id)!.Value;
        var c = Find(board, tiedA.Id)!.Value;
        var d = Find(board, tiedB.Id)!.Value;
        Assert.Equal(200, a.Long("score"));
        Assert.Equal(2, a.Long("paying_customers"));
        Assert.Equal(20_000, a.Long("referred_sales_sats"));
        Assert.Equal(120, b.Long("score"));
        Assert.Equal(1, b.Long("paying_customers"));
        Assert.Equal(100, c.Long("score"));
        Assert.True(a.Long("rank") < b.Long("rank"));
        Assert.True(b.Long("rank") < c.Long("rank"));
        Assert.Equal(c.Long("rank"), d.Long("rank"));
        // Ranks are competition ranks: 1 + the number of strictly higher scores; the list is sorted by score.
        foreach (var item in items)
            Assert.Equal(1 + items.Count(o => o.Long("score") > item.Long("score")), item.Long("rank"));
        Assert.Equal(items.OrderByDescending(i => i.Long("score")).Select(i => i.Long("score")), items.Select(i => i.Long("score")));
    }

    [Fact]
    public async Task Leaderboard_ShowsChosenDisplayNamesOrPseudonyms_NeverUsernames()
    {
        var named = await AffiliateAsync(1);
        var anonymous = await AffiliateAsync(1);
        await PatchAsync(named.Id, new { display_name = "  Satoshi's Fan  " });

        var board = await BoardAsync($"&user_id={named.Id}");
        var text = board.GetRawText();

        Assert.Contains(board.GetProperty("items").EnumerateArray(), i => i.Str("display_name") == "Satoshi's Fan");
        Assert.Equal("Satoshi's Fan", board.GetProperty("me").Str("display_name"));
        var pseudonym = Find(board, anonymous.Id)!.Value.Str("display_name");
        Assert.Matches("^Affiliate [0-9A-F]{6}$", pseudonym);
        Assert.Equal(pseudonym, Find(await BoardAsync(), anonymous.Id)!.Value.Str("display_name")); // stable
        Assert.DoesNotContain(named.Username, text, StringComparison.Ordinal);
        Assert.DoesNotContain(anonymous.Username, text, StringComparison.Ordinal);
        Assert.DoesNotContain(anonymous.Id, text, StringComparison.Ordinal);

        // An empty display name removes it; a name that imitates a pseudonym is refused.
        await PatchAsync(named.Id, new { display_name = "" });
        Assert.NotNull(Find(await BoardAsync(), named.Id));
        await (await app.Admin().PatchAsync($"/api/v1/users/{named.Id}", Http.Json(new { display_name = "Affiliate 7F3A2C" })))
            .AssertProblemAsync(400, "validation_failed");
    }

    [Fact]
    public async Task HiddenUsers_AreLeftOut_AndHaveNoRank()
    {
        var hidden = await AffiliateAsync(3);
        Assert.NotNull(Find(await BoardAsync(), hidden.Id));
        Assert.Equal(JsonValueKind.Number, (await ProfileAsync(hidden.Id)).GetProperty("rank").ValueKind);

        await PatchAsync(hidden.Id, new { hidden_from_leaderboard = true });

        var board = await BoardAsync($"&user_id={hidden.Id}");
        Assert.Null(Find(board, hidden.Id));
        Assert.Equal(JsonValueKind.Null, board.GetProperty("me").ValueKind);
        var profile = await ProfileAsync(hidden.Id);
        Assert.Equal(JsonValueKind.Null, profile.GetProperty("rank").ValueKind);
        Assert.True(profile.GetProperty("hidden_from_leaderboard").GetBoolean());

        await PatchAsync(hidden.Id, new { hidden_from_leaderboard = false });
        Assert.NotNull(Find(await BoardAsync(), hidden.Id));
    }

    [Fact]
    public async Task SignUpsWithoutPurchases_ScoreNothingAndDoNotAppear()
    {
        var recruiter = await app.RegisterAsync();
        for (var i = 0; i < 5; i++) await app.RegisterAsync(referral: recruiter.Str("referral_code"));
        var id = recruiter.Str("user_id");

        var board = await BoardAsync($"&user_id={id}");

        Assert.Null(Find(board, id));
        Assert.Equal(JsonValueKind.Null, board.GetProperty("me").ValueKind);
        var profile = await ProfileAsync(id);
        Assert.Equal(JsonValueKind.Null, profile.GetProperty("rank").ValueKind);
        Assert.Equal(5, profile.GetProperty("referrals").GetProperty("count").GetInt32());
        Assert.Equal("Silver", profile.GetProperty("tier").GetProperty("next").Str("name"));
        Assert.Equal(2, profile.GetProperty("tier").GetProperty("next").GetProperty("remaining_paying_customers").GetInt32());
    }

    [Fact]
    public async Task AReferralsReferrals_NeverCountForTheGrandReferrer()
    {
        // grand → middle → buyers: only middle earns and ranks on the buyers' purchases.
        var grand = await app.RegisterAsync();
        var middle = await app.RegisterAsync(referral: grand.Str("referral_code"));
        for (var i = 0; i < 3; i++)
            await SaleAsync((await app.RegisterAsync(referral: middle.Str("referral_code"))).Str("user_id"));
        string grandId = grand.Str("user_id"), middleId = middle.Str("user_id");

        var board = await BoardAsync($"&user_id={grandId}");
        Assert.Null(Find(board, grandId));
        Assert.Equal(JsonValueKind.Null, board.GetProperty("me").ValueKind);
        Assert.Equal(3, Find(board, middleId)!.Value.Long("paying_customers"));
        var grandProfile = await ProfileAsync(grandId);
        Assert.Equal(JsonValueKind.Null, grandProfile.GetProperty("rank").ValueKind);
        Assert.Equal(0, grandProfile.GetProperty("earnings_total_sats").GetInt64());
        Assert.Equal(JsonValueKind.Null, grandProfile.GetProperty("tier").GetProperty("name").ValueKind);
        Assert.Equal(0, await app.DbAsync(db => db.Commissions.CountAsync(c => c.AffiliateId == Guid.Parse(grandId))));

        // When middle buys, grand (middle's direct referrer) earns on that purchase — one level, one customer.
        await SaleAsync(middleId);
        var after = Find(await BoardAsync(), grandId)!.Value;
        Assert.Equal(1, after.Long("paying_customers"));
        Assert.Equal(10_000, after.Long("referred_sales_sats"));
    }

    [Fact]
    public async Task Me_IsTheRequestersOwnPlace_AndAPlatformKeySeesOnlyItsUsers()
    {
        var affiliate = await AffiliateAsync(2);
        var board = await BoardAsync($"&user_id={affiliate.Id}");
        var me = board.GetProperty("me");
        Assert.Equal(Find(board, affiliate.Id)!.Value.Long("rank"), me.Long("rank"));
        Assert.Equal(me.Long("rank"), (await ProfileAsync(affiliate.Id)).GetProperty("rank").GetInt64());

        var websiteKey = await app.CreateKeyAsync("website");
        var response = await app.Client(websiteKey).GetAsync($"/api/v1/leaderboard?user_id={affiliate.Id}");
        await response.AssertProblemAsync(404, "user_not_found");
        Assert.Equal(200, (int)(await app.Client(websiteKey).GetAsync("/api/v1/leaderboard")).StatusCode);
        await (await app.Admin().GetAsync("/api/v1/leaderboard?period=year")).AssertProblemAsync(400, "validation_failed");
        await (await app.Admin().GetAsync("/api/v1/leaderboard?limit=0")).AssertProblemAsync(400, "validation_failed");
    }

    [Fact]
    public async Task Month_CountsOnlyTheCurrentCalendarMonth()
    {
        var lastMonth = await AffiliateAsync(2);
        var now = app.Clock.GetUtcNow().UtcDateTime;
        app.Clock.SetUtcNow(new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1).AddHours(1));
        var thisMonth = await AffiliateAsync(1);
        await SaleAsync(lastMonth.Buyers[0]); // a renewal in the new month

        var month = await BoardAsync("&period=month");
        var all = await BoardAsync("&period=all");

        Assert.Equal("month", month.Str("period"));
        Assert.NotNull(Find(month, thisMonth.Id));
        var lastInMonth = Find(month, lastMonth.Id)!.Value;
        Assert.Equal(1, lastInMonth.Long("paying_customers"));
        Assert.Equal(10_000, lastInMonth.Long("referred_sales_sats"));
        var lastInAll = Find(all, lastMonth.Id)!.Value;
        Assert.Equal(2, lastInAll.Long("paying_customers"));
        Assert.Equal(30_000, lastInAll.Long("referred_sales_sats"));
        Assert.Equal(220, lastInAll.Long("score")); // 2 customers + 1 renewal
    }

    [Fact]
    public async Task Profile_ShowsTierAndTheNextOne()
    {
        var affiliate = await AffiliateAsync(2);
        var tier = (await ProfileAsync(affiliate.Id)).GetProperty("tier");
        Assert.Equal("Silver", tier.Str("name"));
        Assert.Equal(500, tier.GetProperty("bonus_bps").GetInt32());
        Assert.Equal("Gold", tier.GetProperty("next").Str("name"));
        Assert.Equal(30_000, tier.GetProperty("next").GetProperty("remaining_sales_sats").GetInt64());
        Assert.Equal(JsonValueKind.Null, tier.GetProperty("next").GetProperty("remaining_paying_customers").ValueKind);
    }

    [Fact]
    public async Task TierUp_IsQueuedOnceWhenASaleLiftsTheAffiliate()
    {
        var affiliate = await AffiliateAsync(1);
        var id = Guid.Parse(affiliate.Id);
        Task<List<string>> EventsAsync() => app.DbAsync(db => db.OutboxMessages.Where(m => m.Type == TierUps.EventType && m.DedupeKey.Contains(affiliate.Id))
            .OrderBy(m => m.Id).Select(m => m.Payload).ToListAsync());
        Assert.Empty(await EventsAsync());

        var second = (await app.RegisterAsync(referral: (await ProfileAsync(affiliate.Id)).Str("referral_code"))).Str("user_id");
        await SaleAsync(second);           // 2 paying customers: Silver
        await SaleAsync(second);           // still Silver
        await SaleAsync(affiliate.Buyers[0]);

        var events = await EventsAsync();
        var silver = JsonDocument.Parse(Assert.Single(events)).RootElement;
        Assert.Equal("Silver", silver.Str("tier"));
        Assert.Equal(affiliate.Id, silver.Str("affiliate_id"));
        Assert.Equal(5500, silver.GetProperty("rate_bps").GetInt32());
        // The sale that reached Silver was paid at the old rate; the next ones at the new.
        var rates = await app.DbAsync(db => db.Commissions.Where(c => c.AffiliateId == id).OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).Select(c => c.RateBps).ToListAsync());
        Assert.Equal([5000, 5000, 5500, 5500], rates);

        await SaleAsync(second);           // 50,000 sats of referred sales: Gold
        events = await EventsAsync();
        Assert.Equal(["Silver", "Gold"], events.Select(e => JsonDocument.Parse(e).RootElement.Str("tier")));
    }

    [Fact]
    public async Task CommissionHistory_PagesAndFollowsTheStates()
    {
        var affiliate = await AffiliateAsync(3);
        var client = app.Admin();
        var url = $"/api/v1/users/{affiliate.Id}/commissions";

        var first = await (await client.GetAsync(url + "?limit=2")).AssertStatusAsync(200);
        Assert.Equal(2, first.GetProperty("items").GetArrayLength());
        var cursor = first.Str("next_cursor");
        var second = await (await client.GetAsync($"{url}?limit=2&cursor={cursor}")).AssertStatusAsync(200);
        Assert.Single(second.GetProperty("items").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);

        var all = (await (await client.GetAsync(url)).AssertStatusAsync(200)).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(3, all.Count);
        Assert.All(all, c => Assert.Equal("pending", c.Str("state")));
        var c0 = all[0];
        Assert.Equal("basic", c0.Str("plan"));
        Assert.Equal(10_000, c0.Long("sale_sats"));
        Assert.Equal(5000, c0.GetProperty("rate_bps").GetInt32());
        Assert.Equal(5000, c0.Long("amount_sats"));
        Assert.Equal(JsonValueKind.Null, c0.GetProperty("tier").ValueKind);
        Assert.Equal("Silver", all[2].Str("tier"));
        Assert.Equal(Pseudonyms.Buyer(Guid.Parse(affiliate.Buyers[0])), c0.Str("buyer"));
        Assert.Matches("^Customer [0-9A-F]{6}$", c0.Str("buyer"));
        Assert.DoesNotContain(affiliate.Buyers[0], string.Join(",", all.Select(a => a.GetRawText())), StringComparison.Ordinal);

        // The hold ends: available. Some is paid out: the oldest becomes paid. A refund: clawed back.
        app.Clock.Advance(TimeSpan.FromDays(8));
        await using (var scope = app.Services.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<HoldRelease>().ReleaseDueAsync(default);
        await app.DbAsync(db =>
        {
            var aff = Guid.Parse(affiliate.Id);
            LedgerBook.Post(db, $"test-payout:{aff}", "test", app.Clock.GetUtcNow(),
                [(Accounts.AffiliateAvailable(aff), new Sats(-5000)), (Accounts.AffiliatePaid(aff), new Sats(5000))]);
            return db.SaveChangesAsync();
        });
        var refundedInvoice = await app.DbAsync(db => db.Commissions.Where(c => c.Id == Guid.Parse(all[2].Str("commission_id"))).Select(c => c.InvoiceId).SingleAsync());
        await (await client.PostAsync($"/api/v1/admin/invoices/{refundedInvoice}/refund", Http.Json(new { reason = "asked" }))).AssertStatusAsync(200);

        var states = (await (await client.GetAsync(url)).AssertStatusAsync(200)).GetProperty("items").EnumerateArray().Select(c => c.Str("state")).ToList();
        Assert.Equal(["paid", "available", "clawed_back"], states);
    }

    [Fact]
    public async Task CommissionHistory_FollowsTheUserRoutesScopes()
    {
        var affiliate = await AffiliateAsync(1);
        var website = await app.CreateKeyAsync("website");
        await (await app.Client(website).GetAsync($"/api/v1/users/{affiliate.Id}/commissions")).AssertProblemAsync(404, "user_not_found");
        await (await app.Client(await app.CreateKeyAsync("telegram")).GetAsync($"/api/v1/users/{affiliate.Id}/commissions")).AssertStatusAsync(200);
        await (await app.Admin().GetAsync($"/api/v1/users/{Guid.NewGuid()}/commissions")).AssertProblemAsync(404, "user_not_found");
        await (await app.Admin().GetAsync($"/api/v1/users/{affiliate.Id}/commissions?cursor=nope")).AssertProblemAsync(400, "validation_failed");
    }
}
