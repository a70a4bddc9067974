using Microsoft.EntityFrameworkCore;
using System.Text.Json;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Api;

/// <summary>Seeds one website user with a subscription and invoice, plans and keys for the matrix.</summary>
public sealed class AuthorizationMatrixFactory : ApiFactory
{
    public string UserId { get; private set; } = "";
    public string Username { get; private set; } = "";
    public string ErasableUserId { get; private set; } = "";
    public string SubscriptionId { get; private set; } = "";
    public string InvoiceId { get; private set; } = "";
    public string RefundableInvoiceId { get; private set; } = "";
    public string EditablePlan { get; private set; } = "";
    public string DeactivatablePlan { get; private set; } = "";
    public string RevocableKeyId { get; private set; } = "";
    public string OtherPlatformKey { get; private set; } = "";
    public string RevokedKey { get; private set; } = "";
    public string AffiliateId { get; private set; } = "";
    public string PayoutId { get; private set; } = "";
    public string ApprovablePayoutId { get; private set; } = "";
    public string RejectablePayoutId { get; private set; } = "";
    public string ManualPayoutId { get; private set; } = "";
    public string FlagId { get; private set; } = "";
    public string ReleasableCommissionId { get; private set; } = "";
    public string ReversibleCommissionId { get; private set; } = "";

    // No hold, so the affiliate's sales are withdrawable at once; payouts above 1,000 sats wait for the admin.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Affiliate:HoldDays"] = "0",
        ["Payouts:AutoApproveMaxSats"] = "1000",
    };

    protected override async Task SeedAsync()
    {
        await SeedEconomyAsync();
        var user = await RegisterAsync("website");
        UserId = user.Str("user_id");
        Username = user.Str("username");
        ErasableUserId = (await RegisterAsync("website")).Str("user_id");
        var sub = await BuyAsync(UserId);
        SubscriptionId = sub.Str("subscription_id");
        InvoiceId = sub.GetProperty("invoice").Str("invoice_id");
        var refundable = await BuyAsync((await RegisterAsync("website")).Str("user_id"));
        RefundableInvoiceId = refundable.GetProperty("invoice").Str("invoice_id");
        await SettleAsync(RefundableInvoiceId);
        EditablePlan = await PlanAsync();
        DeactivatablePlan = await PlanAsync();
        var key = await (await Admin().PostAsync("/api/v1/admin/api-keys", Http.Json(new { name = "revocable", scopes = "website" }))).AssertStatusAsync(201);
        RevocableKeyId = key.Str("id");
        OtherPlatformKey = await CreateKeyAsync("telegram");
        RevokedKey = await CreateKeyAsync("website");
        await RevokeAsync(RevokedKey);
    }

    /// <summary>A website affiliate with 30,000 sats available, payouts in each state the admin acts on, a flag and two held commissions.</summary>
    private async Task SeedEconomyAsync()
    {
        var affiliate = await RegisterAsync("website");
        AffiliateId = affiliate.Str("user_id");
        for (var i = 0; i < 6; i++)
        {
            var buyer = await RegisterAsync("telegram", referral: affiliate.Str("referral_code"));
            await SettleAsync((await BuyAsync(buyer.Str("user_id"))).GetProperty("invoice").Str("invoice_id"));
        }
        async Task<string> PayoutAsync(long amount) =>
            (await (await Admin().PostAsync($"/api/v1/users/{AffiliateId}/payouts", Http.Json(new { amount_sats = amount, destination = "matrix@wallet.example" })))
                .AssertStatusAsync(201)).Str("payout_id");
        PayoutId = await PayoutAsync(2000);
        ApprovablePayoutId = await PayoutAsync(2000);
        RejectablePayoutId = await PayoutAsync(2000);
        ManualPayoutId = await PayoutAsync(2000);
        var manual = Guid.Parse(ManualPayoutId);
        await DbAsync(db => db.Payouts.Where(p => p.Id == manual)
            .ExecuteUpdateAsync(x => x.SetProperty(p => p.Provider, "manual").SetProperty(p => p.Status, Satsub.Payouts.PayoutStatus.Approved)));

        await DbAsync(async db =>
        {
            await Satsub.Operations.AdminFlags.RaiseAsync(db, "matrix", "matrix:" + Guid.NewGuid().ToString("N"), "matrix", "for the matrix", DateTimeOffset.UtcNow, default);
            FlagId = (await db.AdminFlags.Where(f => f.Kind == "matrix").Select(f => f.Id).SingleAsync()).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return 0;
        });

        // Buyers who share the referrer's payout destination: their commissions are held for review.
        var referrer = await RegisterAsync("telegram");
        var referrerId = Guid.Parse(referrer.Str("user_id"));
        var held = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var buyer = await RegisterAsync("telegram", referral: referrer.Str("referral_code"));
            var ids = new[] { referrerId, Guid.Parse(buyer.Str("user_id")) };
            await DbAsync(db => db.Users.Where(u => ids.Contains(u.Id)).ExecuteUpdateAsync(x => x.SetProperty(u => u.PayoutDestination, "shared@wallet.example")));
            var invoice = Guid.Parse((await BuyAsync(buyer.Str("user_id"))).GetProperty("invoice").Str("invoice_id"));
            await SettleAsync(invoice.ToString("D"));
            held.Add((await DbAsync(db => db.Commissions.Where(c => c.InvoiceId == invoice).Select(c => c.Id).SingleAsync())).ToString("D"));
        }
        ReleasableCommissionId = held[0];
        ReversibleCommissionId = held[1];
    }

    private async Task<string> PlanAsync()
    {
        var code = "m" + Guid.NewGuid().ToString("N")[..8];
        await (await Admin().PostAsync("/api/v1/admin/plans", Http.Json(new { type = code, name = "M", price_sats = 1000, duration_days = 7 }))).AssertStatusAsync(201);
        return code;
    }
}

public sealed class AuthorizationMatrixTests(AuthorizationMatrixFactory app) : IClassFixture<AuthorizationMatrixFactory>
{
    public enum Access
    {
        /// <summary>Any valid key.</summary>
        AnyKey,
        /// <summary>About a website user: another platform's key gets 404.</summary>
        WebsiteUser,
        /// <summary>Registers a website user: another platform's key gets 403.</summary>
        RegisterWebsiteUser,
        Admin,
    }

    private sealed record Route(string Method, Func<AuthorizationMatrixFactory, string> Path, Func<AuthorizationMatrixFactory, object?> Body, Access Access);

    private static readonly Dictionary<string, Route> Routes = new()
    {
        ["POST /users"] = new("POST", _ => "/api/v1/users", _ => new { platform = "website", username = "m-" + Guid.NewGuid().ToString("N")[..10] }, Access.RegisterWebsiteUser),
        ["GET /users?platform&username"] = new("GET", f => $"/api/v1/users?platform=website&username={f.Username}", _ => null, Access.WebsiteUser),
        ["GET /users/{id}"] = new("GET", f => $"/api/v1/users/{f.UserId}", _ => null, Access.WebsiteUser),
        ["GET /users/{id}/referrals"] = new("GET", f => $"/api/v1/users/{f.UserId}/referrals", _ => null, Access.WebsiteUser),
        ["PATCH /users/{id}"] = new("PATCH", f => $"/api/v1/users/{f.UserId}", _ => new { display_name = "Matrix" }, Access.WebsiteUser),
        ["GET /users/{id}/commissions"] = new("GET", f => $"/api/v1/users/{f.UserId}/commissions", _ => null, Access.WebsiteUser),
        ["GET /leaderboard"] = new("GET", _ => "/api/v1/leaderboard?period=month", _ => null, Access.AnyKey),
        ["DELETE /users/{id}"] = new("DELETE", f => $"/api/v1/users/{f.ErasableUserId}", _ => null, Access.WebsiteUser),
        ["GET /subscriptions/types"] = new("GET", _ => "/api/v1/subscriptions/types", _ => null, Access.AnyKey),
        ["POST /subscriptions"] = new("POST", _ => "/api/v1/subscriptions", f => new { user_id = f.UserId, subscription_type = "basic", payment_data = new { method = "lightning" } }, Access.WebsiteUser),
        ["GET /subscriptions/{id}"] = new("GET", f => $"/api/v1/subscriptions/{f.SubscriptionId}", _ => null, Access.WebsiteUser),
        ["POST /admin/invoices/{id}/settle"] = new("POST", f => $"/api/v1/admin/invoices/{f.InvoiceId}/settle", _ => null, Access.Admin),
        ["POST /admin/invoices/{id}/refund"] = new("POST", f => $"/api/v1/admin/invoices/{f.RefundableInvoiceId}/refund", _ => new { reason = "matrix" }, Access.Admin),
        ["GET /admin/stats"] = new("GET", _ => "/api/v1/admin/stats", _ => null, Access.Admin),
        ["GET /admin/audit"] = new("GET", _ => "/api/v1/admin/audit", _ => null, Access.Admin),
        ["GET /admin/plans"] = new("GET", _ => "/api/v1/admin/plans", _ => null, Access.Admin),
        ["GET /admin/plans/{type}"] = new("GET", _ => "/api/v1/admin/plans/basic", _ => null, Access.Admin),
        ["POST /admin/plans"] = new("POST", _ => "/api/v1/admin/plans", _ => new { type = "n" + Guid.NewGuid().ToString("N")[..8], name = "N", price_sats = 5, duration_days = 1 }, Access.Admin),
        ["PUT /admin/plans/{type}"] = new("PUT", f => $"/api/v1/admin/plans/{f.EditablePlan}", _ => new { name = "Edited", price_sats = 2000, duration_days = 7 }, Access.Admin),
        ["DELETE /admin/plans/{type}"] = new("DELETE", f => $"/api/v1/admin/plans/{f.DeactivatablePlan}", _ => null, Access.Admin),
        ["POST /admin/api-keys"] = new("POST", _ => "/api/v1/admin/api-keys", _ => new { name = "k", scopes = "website" }, Access.Admin),
        ["GET /admin/api-keys"] = new("GET", _ => "/api/v1/admin/api-keys", _ => null, Access.Admin),
        ["DELETE /admin/api-keys/{id}"] = new("DELETE", f => $"/api/v1/admin/api-keys/{f.RevocableKeyId}", _ => null, Access.Admin),
        ["POST /users/{id}/payouts"] = new("POST", f => $"/api/v1/users/{f.AffiliateId}/payouts", _ => new { amount_sats = 1000, destination = "matrix@wallet.example" }, Access.WebsiteUser),
        ["GET /payouts/{id}"] = new("GET", f => $"/api/v1/payouts/{f.PayoutId}", _ => null, Access.WebsiteUser),
        ["POST /users/{id}/subscriptions/pay-with-earnings"] = new("POST", f => $"/api/v1/users/{f.AffiliateId}/subscriptions/pay-with-earnings", _ => new { subscription_type = "basic" }, Access.WebsiteUser),
        ["POST /admin/payouts/{id}/approve"] = new("POST", f => $"/api/v1/admin/payouts/{f.ApprovablePayoutId}/approve", _ => null, Access.Admin),
        ["POST /admin/payouts/{id}/reject"] = new("POST", f => $"/api/v1/admin/payouts/{f.RejectablePayoutId}/reject", _ => new { reason = "matrix" }, Access.Admin),
        ["POST /admin/payouts/{id}/mark-sent"] = new("POST", f => $"/api/v1/admin/payouts/{f.ManualPayoutId}/mark-sent", _ => new { reference = new string('a', 64), fee_sats = 0 }, Access.Admin),
        ["GET /admin/payouts/export.csv"] = new("GET", _ => "/api/v1/admin/payouts/export.csv", _ => null, Access.Admin),
        ["GET /admin/flags"] = new("GET", _ => "/api/v1/admin/flags?status=all", _ => null, Access.Admin),
        ["POST /admin/flags/{id}/resolve"] = new("POST", f => $"/api/v1/admin/flags/{f.FlagId}/resolve", _ => null, Access.Admin),
        ["POST /admin/commissions/{id}/release"] = new("POST", f => $"/api/v1/admin/commissions/{f.ReleasableCommissionId}/release", _ => null, Access.Admin),
        ["POST /admin/commissions/{id}/reverse"] = new("POST", f => $"/api/v1/admin/commissions/{f.ReversibleCommissionId}/reverse", _ => null, Access.Admin),
    };

    public static readonly string[] Credentials = ["none", "bad", "malformed", "revoked", "other_platform", "admin"];

    public static IEnumerable<object[]> Matrix() =>
        from route in Routes.Keys from credential in Credentials select new object[] { route, credential };

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Route_WithCredential_IsAllowedOnlyWhereTheScopeSaysSo(string routeName, string credential)
    {
        var route = Routes[routeName];
        var key = credential switch
        {
            "none" => null,
            "bad" => "sk_" + new string('A', 40),
            "malformed" => "definitely not a key",
            "revoked" => app.RevokedKey,
            "other_platform" => app.OtherPlatformKey,
            _ => app.AdminKey,
        };
        using var request = new HttpRequestMessage(new HttpMethod(route.Method), route.Path(app));
        if (route.Body(app) is { } body) request.Content = Http.Json(body);

        var response = await app.Client(key).SendAsync(request);

        switch (credential)
        {
            case "none" or "bad" or "malformed" or "revoked":
                await response.AssertProblemAsync(401, "unauthorized");
                Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
                break;
            case "other_platform":
                switch (route.Access)
                {
                    case Access.AnyKey:
                        Assert.True(response.IsSuccessStatusCode, $"{routeName}: {(int)response.StatusCode}");
                        break;
                    case Access.WebsiteUser:
                        var code = routeName switch
                        {
                            "GET /subscriptions/{id}" => "subscription_not_found",
                            "GET /payouts/{id}" => "payout_not_found",
                            _ => "user_not_found",
                        };
                        await response.AssertProblemAsync(404, code);
                        break;
                    case Access.RegisterWebsiteUser or Access.Admin:
                        await response.AssertProblemAsync(403, "forbidden");
                        break;
                }
                break;
            default:
                Assert.True(response.IsSuccessStatusCode, $"{routeName}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                break;
        }
    }

    [Fact]
    public async Task GenericWebhook_IgnoresApiKeys_TheSignatureIsTheAuthentication()
    {
        foreach (var key in new[] { null, app.AdminKey, app.OtherPlatformKey })
        {
            var response = await app.Client(key).PostAsync("/api/v1/webhook/payment", Http.Json("{}"));
            await response.AssertProblemAsync(401, "invalid_signature");
        }
    }

    [Fact]
    public async Task PublicEndpoints_NeedNoKey()
    {
        var client = app.Client(null);
        Assert.Equal(200, (int)(await client.GetAsync("/health")).StatusCode);
        Assert.Equal(200, (int)(await client.GetAsync("/openapi/v1.json")).StatusCode);
        var docs = await client.GetAsync("/docs/");
        Assert.Equal(200, (int)docs.StatusCode);
        Assert.Equal("text/html", docs.Content.Headers.ContentType?.MediaType);
        _ = JsonDocument.Parse(await (await client.GetAsync("/openapi/v1.json")).Content.ReadAsStringAsync());
    }
}
