using System.Text;
using Satsub.Tests.Fixtures;
using Satsub.Transparency;

namespace Satsub.Tests.Transparency;

public sealed class TransparencyApiTests(ReportApiFactory app) : IClassFixture<ReportApiFactory>
{
    private async Task<(string AffiliateId, string InvoiceId)> SaleAsync(string? referral, string plan = "basic")
    {
        var buyer = await app.RegisterAsync(referral: referral);
        var invoice = (await app.BuyAsync(buyer.Str("user_id"), plan)).GetProperty("invoice").Str("invoice_id");
        await app.SettleAsync(invoice);
        return (buyer.Str("user_id"), invoice);
    }

    private static async Task<(string Csv, HttpResponseMessage Response)> CsvAsync(HttpClient client, string month)
    {
        var response = await client.GetAsync($"/api/v1/reports/{month}?format=csv");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.False(bytes.AsSpan().StartsWith(Encoding.UTF8.Preamble), "no byte-order mark");
        return (Encoding.UTF8.GetString(bytes), response);
    }

    /// <summary>
    /// What the issue's check does: a month of sandbox sales, its report downloaded and its totals compared with the API's
    /// balances, and once the month is closed, its signature verified — and a changed report fails.
    /// </summary>
    [Fact]
    public async Task MonthOfSandboxSales_ReportMatchesTheBalances_AndIsSignedWhenClosed()
    {
        var anonymous = app.Client(null);
        var affiliate = await app.RegisterAsync();
        var code = affiliate.Str("referral_code");
        await SaleAsync(code);
        await SaleAsync(code, "premium");
        await SaleAsync(null);

        var open = await (await anonymous.GetAsync("/api/v1/reports/2026-03")).AssertStatusAsync(200);
        Assert.Equal("open", open.Str("status"));
        Assert.False(open.GetProperty("signed").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, open.GetProperty("signature").ValueKind);
        var totals = open.GetProperty("totals");
        Assert.Equal(3, totals.GetProperty("sales_count").GetInt32());
        Assert.Equal(10_000 + 25_000 + 10_000, totals.Long("sales_sats"));
        Assert.Equal(5_000 + 12_500, totals.Long("commissions_accrued_sats"));
        Assert.Equal(45_000 - 17_500, totals.Long("owner_share_sats"));
        Assert.Equal(3, open.GetProperty("rows").GetArrayLength());
        Assert.All(open.GetProperty("rows").EnumerateArray(), r => Assert.Equal("sale", r.Str("type")));

        // The API's balances: the affiliate's available balance (no hold) is the commission the report shows.
        var user = await (await app.Admin().GetAsync($"/api/v1/users/{affiliate.Str("user_id")}")).AssertStatusAsync(200);
        Assert.Equal(totals.Long("commissions_accrued_sats"), user.GetProperty("balance").Long("available_sats"));
        var transparency = await (await anonymous.GetAsync("/api/v1/transparency")).AssertStatusAsync(200);
        var rules = transparency.GetProperty("rules");
        Assert.Equal(5000, rules.GetProperty("affiliate_base_bps").GetInt32());
        Assert.Equal(5000, rules.GetProperty("owner_base_bps").GetInt32());
        Assert.Equal(0, rules.GetProperty("hold_days").GetInt32());
        Assert.Equal(1, rules.GetProperty("levels").GetInt32());
        Assert.Equal(0, rules.GetProperty("tiers").GetArrayLength());
        var all = transparency.GetProperty("totals");
        Assert.Equal(totals.Long("sales_sats"), all.Long("sales_sats"));
        Assert.Equal(totals.Long("owner_share_sats"), all.Long("owner_share_sats"));
        Assert.Equal(totals.Long("commissions_accrued_sats"), all.Long("commissions_available_sats"));
        Assert.Equal(12, transparency.GetProperty("months").GetArrayLength());
        Assert.Equal(ReportSignerTests.TestKey.PubKey.GetAddress(NBitcoin.ScriptPubKeyType.Legacy, NBitcoin.Network.Main).ToString(), transparency.Str("signing_address"));

        var (openCsv, openResponse) = await CsvAsync(anonymous, "2026-03");
        Assert.Equal(open.Str("sha256"), ReportCsv.Sha256Hex(openCsv));
        Assert.Equal(open.Str("sha256"), openResponse.Headers.GetValues("Satsub-Report-Sha256").Single());
        Assert.Equal("open", openResponse.Headers.GetValues("Satsub-Report-Status").Single());
        Assert.StartsWith(ReportCsv.Header + "\n", openCsv, StringComparison.Ordinal);

        // The month ends; ten minutes later it closes.
        app.Clock.SetUtcNow(new DateTimeOffset(2026, 4, 1, 0, 5, 0, TimeSpan.Zero));
        Assert.Equal("open", (await (await anonymous.GetAsync("/api/v1/reports/2026-03")).AssertStatusAsync(200)).Str("status"));
        app.Clock.SetUtcNow(new DateTimeOffset(2026, 4, 1, 0, 11, 0, TimeSpan.Zero));
        var closed = await (await anonymous.GetAsync("/api/v1/reports/2026-03")).AssertStatusAsync(200);
        Assert.Equal("closed", closed.Str("status"));
        Assert.True(closed.GetProperty("signed").GetBoolean());
        Assert.Equal(open.Str("sha256"), closed.Str("sha256"));
        var s = closed.GetProperty("signature");
        var signature = new ReportSignature(s.Str("address"), s.Str("scheme"), s.Str("message"), s.Str("signature"));
        Assert.Equal($"Satsub report 2026-03 sha256:{closed.Str("sha256")}", signature.Message);
        Assert.Equal(ReportSigner.LegacyScheme, signature.Scheme);
        Assert.True(ReportSigner.Verify(signature, NBitcoin.Network.Main));

        // Anyone who changes the downloaded report gets another digest, which the signature does not cover.
        var (closedCsv, _) = await CsvAsync(anonymous, "2026-03");
        Assert.Equal(openCsv, closedCsv);
        var tampered = closedCsv.Replace(",12500,", ",12400,", StringComparison.Ordinal);
        Assert.NotEqual(closedCsv, tampered);
        Assert.False(ReportSigner.Verify(signature with { Message = ReportCsv.SignedMessage("2026-03", ReportCsv.Sha256Hex(tampered)) }, NBitcoin.Network.Main));

        // Later sales go to the new month; the closed one never changes.
        await SaleAsync(code);
        var again = await (await anonymous.GetAsync("/api/v1/reports/2026-03")).AssertStatusAsync(200);
        Assert.Equal(closed.GetRawText(), again.GetRawText());
        var april = await (await anonymous.GetAsync("/api/v1/reports/2026-04")).AssertStatusAsync(200);
        Assert.Equal("open", april.Str("status"));
        Assert.Equal(1, april.GetProperty("totals").GetProperty("sales_count").GetInt32());
    }

    [Fact]
    public async Task Report_RefusesABadMonthOrFormat_AndAMonthNotBegun()
    {
        var client = app.Client(null);
        (await (await client.GetAsync("/api/v1/reports/2026-3")).AssertProblemAsync(400, "validation_failed")).GetProperty("errors").GetProperty("month");
        await (await client.GetAsync("/api/v1/reports/2008-12")).AssertProblemAsync(400, "validation_failed");
        await (await client.GetAsync("/api/v1/reports/2026-03?format=xml")).AssertProblemAsync(400, "validation_failed");
        await (await client.GetAsync("/api/v1/reports/2099-01")).AssertProblemAsync(404, "not_found");
    }

    [Fact]
    public async Task Page_IsPublicHtml_UnderAStrictContentSecurityPolicy_WithItsAssetsServedLocally()
    {
        var client = app.Client(null);
        var page = await client.GetAsync("/transparency");
        Assert.Equal(200, (int)page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("name=\"viewport\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace(app.Server.BaseAddress.ToString(), "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        foreach (var asset in new[] { "chart.umd.min.js", "charts.js", "satsub.css" })
        {
            var response = await client.GetAsync("/assets/" + asset);
            Assert.Equal(200, (int)response.StatusCode);
            Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 100);
        }
        Assert.Contains("Chart.js v4", await client.GetStringAsync("/assets/chart.umd.min.js"), StringComparison.Ordinal);
        Assert.Equal(404, (int)(await client.GetAsync("/assets/nothing.js")).StatusCode);
    }
}
