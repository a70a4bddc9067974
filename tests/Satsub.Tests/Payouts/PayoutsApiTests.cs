using System.Net;
using Satsub.Refunds;
using Satsub.Tests.Api;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payouts;

public sealed class NoHoldApiFactory : ApiFactory
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Affiliate:HoldDays"] = "0",
        ["Payouts:Provider"] = "sandbox",
        ["Payouts:MinOnchainSats"] = "1000",
        ["Payouts:IntervalSeconds"] = "1",
    };
}

/// <summary>
/// The affiliate economy as an integrator sees it: sales through the sandbox with no hold, a payout to an on-chain
/// address, parallel duplicate payout requests, a refund after the payout (a clawback that leaves the affiliate's
/// available balance negative), and the ledger adding up in the API.
/// </summary>
public sealed class PayoutsApiTests(NoHoldApiFactory app) : IClassFixture<NoHoldApiFactory>
{
    private const string OnChain = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";

    [Fact]
    public async Task SalesPayoutDuplicatesAndARefundAfterThePayout_AddUp()
    {
        var admin = app.Admin();
        var referrer = await app.RegisterAsync("website", username: "aff-" + Guid.NewGuid().ToString("N")[..8]);
        var invoices = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var buyer = await app.RegisterAsync("telegram", referral: referrer.Str("referral_code"));
            var purchase = await app.BuyAsync(buyer.Str("user_id"), "basic");
            invoices.Add(purchase.GetProperty("invoice").Str("invoice_id"));
            await app.SettleAsync(invoices[^1]);
        }
        var userUri = $"/api/v1/users/{referrer.Str("user_id")}";
        var profile = await (await admin.GetAsync(userUri)).AssertStatusAsync(200);
        var available = profile.GetProperty("balance").Long("available_sats");
        Assert.Equal(3 * 5000, available); // basic: 10,000 sats, half to the referrer, no hold

        // Ten identical requests at once for 6,000 sats: only two fit in 15,000.
        var requests = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            admin.PostAsync($"{userUri}/payouts", Http.Json(new { amount_sats = 6000, destination = OnChain }))));
        var created = requests.Where(r => r.StatusCode == HttpStatusCode.Created).ToList();
        Assert.Equal(2, created.Count);
        foreach (var refused in requests.Where(r => r.StatusCode != HttpStatusCode.Created))
            await refused.AssertProblemAsync(409, "insufficient_balance");
        var payoutId = (await created[0].JsonAsync()).Str("payout_id");

        // Above the available balance and below the minimum are refused with problem details.
        await (await admin.PostAsync($"{userUri}/payouts", Http.Json(new { amount_sats = 999_999, destination = OnChain }))).AssertProblemAsync(409, "insufficient_balance");
        await (await admin.PostAsync($"{userUri}/payouts", Http.Json(new { amount_sats = 10, destination = OnChain }))).AssertProblemAsync(422, "below_minimum");
        await (await admin.PostAsync($"{userUri}/payouts", Http.Json(new { amount_sats = 1000, destination = "not-a-destination" }))).AssertProblemAsync(422, "invalid_destination");

        // The sandbox pays within seconds.
        await SatsubServer.EventuallyAsync(async () =>
            (await (await admin.GetAsync($"/api/v1/payouts/{payoutId}")).AssertStatusAsync(200)).Str("status") == "sent");
        await SatsubServer.EventuallyAsync(async () =>
            (await (await admin.GetAsync(userUri)).AssertStatusAsync(200)).GetProperty("balance").Long("paid_out_sats") == 12_000);
        profile = await (await admin.GetAsync(userUri)).AssertStatusAsync(200);
        Assert.Equal(3000, profile.GetProperty("balance").Long("available_sats"));

        // A refund of one sale after the payout claws back its 5,000 sats: available goes negative.
        var refund = await app.Services.CreateAsyncScopeWith<RefundService, RefundResult>(r => r.RefundAsync(Guid.Parse(invoices[0]), "chargeback", default));
        Assert.True(refund.ClawedBack);
        profile = await (await admin.GetAsync(userUri)).AssertStatusAsync(200);
        Assert.Equal(-2000, profile.GetProperty("balance").Long("available_sats"));
        Assert.Equal(12_000, profile.GetProperty("balance").Long("paid_out_sats"));
        Assert.Equal(10_000, profile.Long("earnings_total_sats"));

        // And the books: every account sums to zero; the owner kept exactly the other half of the two remaining sales.
        var balances = await app.DbAsync(db => Satsub.Ledger.LedgerBook.AllBalancesAsync(db, default));
        Assert.Equal(0, balances.Values.Sum());
    }

    [Fact]
    public async Task PlatformKeys_SeeOnlyTheirOwnUsersPayouts_AndOnlyAdminsApprove()
    {
        var website = app.Client(await app.CreateKeyAsync("website"));
        var discord = app.Client(await app.CreateKeyAsync("discord"));
        var referrer = await (await website.PostAsync("/api/v1/users", Http.Json(new { username = "w-" + Guid.NewGuid().ToString("N")[..8], platform = "website" }))).AssertStatusAsync(201);
        var buyer = await app.RegisterAsync("telegram", referral: referrer.Str("referral_code"));
        await app.SettleAsync((await app.BuyAsync(buyer.Str("user_id"), "premium")).GetProperty("invoice").Str("invoice_id"));

        var payout = await (await website.PostAsync($"/api/v1/users/{referrer.Str("user_id")}/payouts", Http.Json(new { destination = OnChain }))).AssertStatusAsync(201);
        Assert.Equal(12_500, payout.Long("amount_sats"));

        await (await discord.GetAsync($"/api/v1/payouts/{payout.Str("payout_id")}")).AssertProblemAsync(404, "payout_not_found");
        await (await discord.PostAsync($"/api/v1/users/{referrer.Str("user_id")}/payouts", Http.Json(new { destination = OnChain }))).AssertProblemAsync(404, "user_not_found");
        await (await website.PostAsync($"/api/v1/admin/payouts/{payout.Str("payout_id")}/reject", Http.Json(new { reason = "x" }))).AssertProblemAsync(403);
        Assert.Equal(payout.Str("payout_id"), (await (await website.GetAsync($"/api/v1/payouts/{payout.Str("payout_id")}")).AssertStatusAsync(200)).Str("payout_id"));
    }
}

internal static class ScopeExtensions
{
    public static async Task<T> CreateAsyncScopeWith<TService, T>(this IServiceProvider services, Func<TService, Task<T>> action) where TService : notnull
    {
        await using var scope = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.CreateAsyncScope(services);
        return await action(Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<TService>(scope.ServiceProvider));
    }
}
