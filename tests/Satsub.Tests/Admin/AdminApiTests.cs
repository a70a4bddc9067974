using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Satsub.Payments;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Admin;

public sealed class AdminApiTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Settle_Sandbox_AnswersTheSameResultWhenSettledAgain()
    {
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var invoiceId = (await app.BuyAsync(buyer.Str("user_id"), "premium")).GetProperty("invoice").Str("invoice_id");
        var url = $"/api/v1/admin/invoices/{invoiceId}/settle";

        var first = await app.Admin().PostAsync(url, null);
        var second = await app.Admin().PostAsync(url, null);

        var a = await first.Content.ReadAsStringAsync();
        var b = await second.Content.ReadAsStringAsync();
        Assert.Equal(200, (int)first.StatusCode);
        Assert.Equal(200, (int)second.StatusCode);
        Assert.Equal(a, b);
        Assert.Equal("false", first.Headers.GetValues("Satsub-Replayed").Single());
        Assert.Equal("true", second.Headers.GetValues("Satsub-Replayed").Single());
        var json = await first.JsonAsync();
        Assert.Equal(25_000, json.Long("amount_sats"));
        Assert.Equal(12_500, json.Long("affiliate_share_sats"));
        Assert.Equal(12_500, json.Long("owner_share_sats"));
        Assert.Equal(referrer.Str("user_id"), json.Str("affiliate_id"));
    }

    [Fact]
    public async Task Settle_TwentyParallelDuplicates_GiveOneCommission()
    {
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var invoiceId = (await app.BuyAsync(buyer.Str("user_id"), "premium")).GetProperty("invoice").Str("invoice_id");
        var url = $"/api/v1/admin/invoices/{invoiceId}/settle";

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => app.Admin().PostAsync(url, null)));

        var bodies = new List<string>();
        foreach (var r in responses)
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            bodies.Add(await r.Content.ReadAsStringAsync());
        }
        Assert.Single(bodies.Distinct());
        Assert.Single(responses, r => r.Headers.GetValues("Satsub-Replayed").Single() == "false");
        var id = Guid.Parse(invoiceId);
        Assert.Equal(1, await app.DbAsync(db => db.Commissions.CountAsync(c => c.InvoiceId == id)));
        Assert.Equal(1, await app.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == id)));
        var referrerId = Guid.Parse(referrer.Str("user_id"));
        var profile = await (await app.Admin().GetAsync($"/api/v1/users/{referrerId}")).AssertStatusAsync(200);
        Assert.Equal(12_500, profile.GetProperty("balance").Long("pending_sats"));
    }

    [Fact]
    public async Task Settle_UnknownOrNotSandbox_IsAProblem()
    {
        await (await app.Admin().PostAsync($"/api/v1/admin/invoices/{Guid.NewGuid()}/settle", null)).AssertProblemAsync(404, "invoice_not_found");
        await (await app.Admin().PostAsync("/api/v1/admin/invoices/abc/settle", null)).AssertProblemAsync(404, "invoice_not_found");

        var buyer = await app.RegisterAsync();
        var body = $"{{\"user_id\":\"{buyer.Str("user_id")}\",\"subscription_type\":\"basic\",\"transaction_id\":\"tx-{Guid.NewGuid()}\",\"amount_sats\":10000}}";
        var webhook = new HttpRequestMessage(HttpMethod.Post, "/api/v1/webhook/payment")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
            Headers = { { GenericWebhookApi.SignatureHeader, GenericWebhookApi.Sign(ApiFactory.WebhookSecret, Encoding.UTF8.GetBytes(body)) } },
        };
        var generic = await (await app.Client(null).SendAsync(webhook)).AssertStatusAsync(200);
        await (await app.Admin().PostAsync($"/api/v1/admin/invoices/{generic.Str("invoice_id")}/settle", null)).AssertProblemAsync(422, "not_sandbox_invoice");
    }

    [Fact]
    public async Task Stats_CountSalesUsersAndCommissionsInThePeriod()
    {
        var from = DateTimeOffset.UtcNow.AddSeconds(-1);
        var before = await (await app.Admin().GetAsync("/api/v1/admin/stats")).AssertStatusAsync(200);
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        await app.SettleAsync((await app.BuyAsync(buyer.Str("user_id"), "basic")).GetProperty("invoice").Str("invoice_id"));

        var after = await (await app.Admin().GetAsync("/api/v1/admin/stats")).AssertStatusAsync(200);
        Assert.Equal(before.GetProperty("sales").GetProperty("count").GetInt32() + 1, after.GetProperty("sales").GetProperty("count").GetInt32());
        Assert.Equal(before.GetProperty("sales").Long("amount_sats") + 10_000, after.GetProperty("sales").Long("amount_sats"));
        Assert.Equal(before.GetProperty("commissions").Long("accrued_sats") + 5_000, after.GetProperty("commissions").Long("accrued_sats"));
        Assert.True(after.GetProperty("new_users").GetInt32() >= 2);
        Assert.True(after.GetProperty("active_subscriptions").GetInt32() >= 1);

        var future = await (await app.Admin().GetAsync($"/api/v1/admin/stats?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(1).ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(2).ToString("O"))}")).AssertStatusAsync(200);
        Assert.Equal(0, future.GetProperty("sales").GetProperty("count").GetInt32());
        var recent = await (await app.Admin().GetAsync($"/api/v1/admin/stats?from={Uri.EscapeDataString(from.ToString("O"))}")).AssertStatusAsync(200);
        Assert.True(recent.GetProperty("sales").GetProperty("count").GetInt32() >= 1);

        await (await app.Admin().GetAsync("/api/v1/admin/stats?from=yesterday")).AssertProblemAsync(400, "validation_failed");
        await (await app.Admin().GetAsync("/api/v1/admin/stats?from=2026-02-01&to=2026-01-01")).AssertProblemAsync(400, "validation_failed");
    }

    [Fact]
    public async Task Audit_RecordsAdminActionsWithKeyAndAddress()
    {
        var name = "auditor-" + Guid.NewGuid().ToString("N")[..6];
        var key = await app.CreateKeyAsync("admin", name);
        var client = app.Client(key);
        var buyer = await app.RegisterAsync();
        var invoiceId = (await app.BuyAsync(buyer.Str("user_id"))).GetProperty("invoice").Str("invoice_id");
        await (await client.PostAsync($"/api/v1/admin/invoices/{invoiceId}/settle", null)).AssertStatusAsync(200);

        var audit = await (await client.GetAsync("/api/v1/admin/audit?limit=100")).AssertStatusAsync(200);
        var entry = audit.GetProperty("items").EnumerateArray().First(e => e.Str("target") == invoiceId);
        Assert.Equal("invoice.settle", entry.Str("action"));
        Assert.Equal(name, entry.Str("api_key_name"));
        Assert.False(string.IsNullOrEmpty(entry.Str("api_key_id")));
        Assert.True(entry.TryGetProperty("remote_ip", out _));
        Assert.True(entry.TryGetProperty("at", out _));

        var page = await (await client.GetAsync("/api/v1/admin/audit?limit=1")).AssertStatusAsync(200);
        var next = page.Str("next_cursor");
        var page2 = await (await client.GetAsync($"/api/v1/admin/audit?limit=1&cursor={next}")).AssertStatusAsync(200);
        Assert.NotEqual(page.GetProperty("items")[0].Str("id"), page2.GetProperty("items")[0].Str("id"));
    }

    [Fact]
    public async Task Plans_CreateReadUpdateDeactivate()
    {
        var code = "p" + Guid.NewGuid().ToString("N")[..8];
        var created = await app.Admin().PostAsync("/api/v1/admin/plans", Http.Json(new { type = code, name = "Gold", description = "All chats", price_sats = 50_000, duration_days = 90, chats = new[] { "@gold" } }));
        var json = await created.AssertStatusAsync(201);
        Assert.Equal("admin", json.Str("source"));
        Assert.Equal($"/api/v1/admin/plans/{code}", created.Headers.Location?.ToString());
        await (await app.Admin().PostAsync("/api/v1/admin/plans", Http.Json(new { type = code, name = "Gold", price_sats = 1, duration_days = 1 }))).AssertProblemAsync(409, "plan_exists");

        var types = await (await app.Admin().GetAsync("/api/v1/subscriptions/types")).AssertStatusAsync(200);
        Assert.Contains(types.EnumerateArray(), t => t.Str("type") == code && t.Long("price_sats") == 50_000);

        var updated = await (await app.Admin().PutAsync($"/api/v1/admin/plans/{code}", Http.Json(new { name = "Gold+", price_sats = 60_000, duration_days = 30 }))).AssertStatusAsync(200);
        Assert.Equal(60_000, updated.Long("price_sats"));
        var read = await (await app.Admin().GetAsync($"/api/v1/admin/plans/{code}")).AssertStatusAsync(200);
        Assert.Equal("Gold+", read.Str("name"));

        Assert.Equal(HttpStatusCode.NoContent, (await app.Admin().DeleteAsync($"/api/v1/admin/plans/{code}")).StatusCode);
        types = await (await app.Admin().GetAsync("/api/v1/subscriptions/types")).AssertStatusAsync(200);
        Assert.DoesNotContain(types.EnumerateArray(), t => t.Str("type") == code);
        var all = await (await app.Admin().GetAsync("/api/v1/admin/plans")).AssertStatusAsync(200);
        Assert.Contains(all.EnumerateArray(), p => p.Str("type") == code && !p.GetProperty("active").GetBoolean());

        Assert.True(await app.DbAsync(db => db.AuditEntries.AnyAsync(a => a.Action == "plan.create" && a.Target == code)));
        Assert.True(await app.DbAsync(db => db.AuditEntries.AnyAsync(a => a.Action == "plan.deactivate" && a.Target == code)));
    }

    [Fact]
    public async Task Plans_BadInputAndConfiguredPlans_AreProblems()
    {
        await (await app.Admin().PutAsync("/api/v1/admin/plans/basic", Http.Json(new { name = "Cheap", price_sats = 1, duration_days = 1 }))).AssertProblemAsync(409, "plan_from_configuration");
        await (await app.Admin().PutAsync("/api/v1/admin/plans/nosuch", Http.Json(new { name = "x", price_sats = 1, duration_days = 1 }))).AssertProblemAsync(404, "plan_not_found");
        await (await app.Admin().DeleteAsync("/api/v1/admin/plans/nosuch")).AssertProblemAsync(404, "plan_not_found");
        await (await app.Admin().GetAsync("/api/v1/admin/plans/nosuch")).AssertProblemAsync(404, "plan_not_found");
        var bad = await app.Admin().PostAsync("/api/v1/admin/plans", Http.Json(new { type = "Bad Code", name = "", price_sats = -1, duration_days = 0 }));
        var problem = await bad.AssertProblemAsync(400, "validation_failed");
        var errors = problem.GetProperty("errors");
        foreach (var field in new[] { "type", "name", "price_sats", "duration_days" }) Assert.True(errors.TryGetProperty(field, out _), field);
    }

    [Fact]
    public async Task ApiKeys_CreateListRevoke_MirrorTheCli()
    {
        var created = await (await app.Admin().PostAsync("/api/v1/admin/api-keys", Http.Json(new { name = "discord bot", scopes = "discord" }))).AssertStatusAsync(201);
        var key = created.Str("key");
        Assert.Matches("^sk_[0-9A-Za-z]{40}$", key);
        Assert.Equal(["discord"], created.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        var discord = app.Client(key);
        await (await discord.GetAsync("/api/v1/subscriptions/types")).AssertStatusAsync(200);

        var list = await (await app.Admin().GetAsync("/api/v1/admin/api-keys")).AssertStatusAsync(200);
        var listed = list.EnumerateArray().Single(k => k.Str("id") == created.Str("id"));
        Assert.False(listed.TryGetProperty("key", out _));
        Assert.DoesNotContain(key, list.GetRawText(), StringComparison.Ordinal);

        var arrayScopes = await (await app.Admin().PostAsync("/api/v1/admin/api-keys", Http.Json(new { name = "two", scopes = new[] { "website", "discord" } }))).AssertStatusAsync(201);
        Assert.Equal(2, arrayScopes.GetProperty("scopes").GetArrayLength());

        Assert.Equal(HttpStatusCode.NoContent, (await app.Admin().DeleteAsync($"/api/v1/admin/api-keys/{created.Str("id")}")).StatusCode);
        await (await discord.GetAsync("/api/v1/subscriptions/types")).AssertProblemAsync(401, "unauthorized");
        await (await app.Admin().DeleteAsync($"/api/v1/admin/api-keys/{Guid.NewGuid()}")).AssertProblemAsync(404, "api_key_not_found");
        await (await app.Admin().PostAsync("/api/v1/admin/api-keys", Http.Json(new { name = "x", scopes = "Not A Scope" }))).AssertProblemAsync(400, "invalid_scopes");
        await (await app.Admin().PostAsync("/api/v1/admin/api-keys", Http.Json(new { name = "x" }))).AssertProblemAsync(400, "validation_failed");
        await (await app.Admin().PostAsync("/api/v1/admin/api-keys", Http.Json(new { name = "x", scopes = 5 }))).AssertProblemAsync(400, "validation_failed");
        Assert.True(await app.DbAsync(db => db.AuditEntries.AnyAsync(a => a.Action == "api_key.revoke" && a.Target == created.Str("id"))));
    }
}
