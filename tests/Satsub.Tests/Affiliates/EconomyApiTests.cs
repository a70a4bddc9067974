using Microsoft.EntityFrameworkCore;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payouts;

namespace Satsub.Tests.Affiliates;

/// <summary>Pay with earnings, the admin's flags and commission review, over HTTP.</summary>
public sealed class EconomyApiTests(NoHoldApiFactory app) : IClassFixture<NoHoldApiFactory>
{
    [Fact]
    public async Task PayWithEarnings_Answers201_ReplaysItsKey_AndRefusesAShortBalanceWithAProblem()
    {
        var admin = app.Admin();
        var affiliate = await app.RegisterAsync("website");
        for (var i = 0; i < 2; i++)
        {
            var buyer = await app.RegisterAsync("telegram", referral: affiliate.Str("referral_code"));
            await app.SettleAsync((await app.BuyAsync(buyer.Str("user_id"))).GetProperty("invoice").Str("invoice_id"));
        }
        var uri = $"/api/v1/users/{affiliate.Str("user_id")}/subscriptions/pay-with-earnings";

        async Task<HttpResponseMessage> PayAsync(string key, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = Http.Json(body) };
            request.Headers.Add("Idempotency-Key", key);
            return await admin.SendAsync(request);
        }

        var first = await (await PayAsync("renew-1", new { subscription_type = "basic" })).AssertStatusAsync(201);
        Assert.Equal("active", first.Str("status"));
        var invoice = first.GetProperty("invoice");
        Assert.Equal(("settled", "earnings", 10_000L), (invoice.Str("status"), invoice.Str("provider"), invoice.Long("amount_sats")));

        var replay = await PayAsync("renew-1", new { subscription_type = "basic" });
        Assert.Equal(invoice.Str("invoice_id"), (await replay.AssertStatusAsync(201)).GetProperty("invoice").Str("invoice_id"));

        var profile = await (await admin.GetAsync($"/api/v1/users/{affiliate.Str("user_id")}")).AssertStatusAsync(200);
        Assert.Equal(0, profile.GetProperty("balance").Long("available_sats"));

        var problem = await (await PayAsync("renew-2", new { subscription_type = "basic" })).AssertProblemAsync(409, "insufficient_balance");
        Assert.Contains("10000", problem.Str("detail"));
        await (await PayAsync("renew-3", new { })).AssertProblemAsync(400, "validation_failed");
        await (await PayAsync("renew-4", new { subscription_type = "nope" })).AssertProblemAsync(422, "unknown_plan");
    }

    [Fact]
    public async Task AHeldCommission_IsListedWithItsReason_AndTheAdminReleasesIt()
    {
        var admin = app.Admin();
        var referrer = await app.RegisterAsync("telegram");
        var buyer = await app.RegisterAsync("telegram", referral: referrer.Str("referral_code"));
        var ids = new[] { Guid.Parse(referrer.Str("user_id")), Guid.Parse(buyer.Str("user_id")) };
        var wallet = "api-" + Guid.NewGuid().ToString("N")[..8] + "@wallet.example";
        await app.DbAsync(db => db.Users.Where(u => ids.Contains(u.Id)).ExecuteUpdateAsync(s => s.SetProperty(u => u.PayoutDestination, wallet)));
        var invoice = (await app.BuyAsync(buyer.Str("user_id"))).GetProperty("invoice").Str("invoice_id");
        await app.SettleAsync(invoice);

        var flags = await (await admin.GetAsync("/api/v1/admin/flags?kind=commission_held_for_review")).AssertStatusAsync(200);
        var flag = Assert.Single(flags.GetProperty("items").EnumerateArray(), f => f.Str("detail").Contains(invoice, StringComparison.Ordinal));
        Assert.Contains(wallet, flag.Str("detail"));

        var commissions = await (await admin.GetAsync($"/api/v1/users/{referrer.Str("user_id")}/commissions")).AssertStatusAsync(200);
        var commission = Assert.Single(commissions.GetProperty("items").EnumerateArray());
        Assert.Equal("held_for_review", commission.Str("state"));

        var released = await (await admin.PostAsync($"/api/v1/admin/commissions/{commission.Str("commission_id")}/release", null)).AssertStatusAsync(200);
        Assert.Equal("available", released.Str("state"));
        Assert.Contains("payout destination", released.Str("review_reason"));
        await (await admin.PostAsync($"/api/v1/admin/commissions/{commission.Str("commission_id")}/reverse", null)).AssertProblemAsync(409, "commission_not_held");
        await (await admin.PostAsync($"/api/v1/admin/commissions/{Guid.NewGuid()}/release", null)).AssertProblemAsync(404, "commission_not_found");

        var open = await (await admin.GetAsync("/api/v1/admin/flags?kind=commission_held_for_review")).AssertStatusAsync(200);
        Assert.DoesNotContain(open.GetProperty("items").EnumerateArray(), f => f.Str("id") == flag.Str("id"));
        var resolved = await (await admin.PostAsync($"/api/v1/admin/flags/{flag.Str("id")}/resolve", null)).AssertStatusAsync(200);
        Assert.False(resolved.GetProperty("resolved_at").ValueKind == System.Text.Json.JsonValueKind.Null);
        await (await admin.GetAsync("/api/v1/admin/flags?status=later")).AssertProblemAsync(400, "validation_failed");
    }
}
