using System.Net;
using Microsoft.EntityFrameworkCore;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Exports;

public sealed class ExportsApiTests(ApiFactory app) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Users_sales_and_commissions_export_as_csv_with_hostile_cells_defused()
    {
        var referrer = await app.RegisterAsync("website");
        var buyer = await app.RegisterAsync("telegram", referrer.Str("referral_code"));
        var buyerId = Guid.Parse(buyer.Str("user_id"));
        // Names as an attacker would choose them: a formula, and a comma with quotes.
        await app.DbAsync(db => db.Database.ExecuteSqlRawAsync(
            "UPDATE users SET username = {0}, display_name = {1} WHERE id = {2}", "=HYPERLINK(\"http://evil\")", "Bob, \"the\" buyer", buyerId));
        var invoice = (await app.BuyAsync(buyer.Str("user_id"), "premium")).GetProperty("invoice").Str("invoice_id");
        await app.SettleAsync(invoice);

        var users = await ExportAsync("users");
        Assert.Equal("user_id,platform,external_id,username,display_name,language,referrer_id,referral_code,created_at,erased_at", string.Join(',', users[0]));
        var row = Assert.Single(users, r => r[0] == buyerId.ToString("D"));
        Assert.Equal("'=HYPERLINK(\"http://evil\")", row[3]);
        Assert.Equal("Bob, \"the\" buyer", row[4]);
        Assert.Equal(referrer.Str("user_id"), row[6]);

        var sale = Assert.Single(await ExportAsync("sales"), r => r[0] == invoice);
        Assert.Equal(buyerId.ToString("D"), sale[1]);
        Assert.Equal("premium", sale[3]);
        Assert.Equal("sandbox", sale[4]);
        Assert.Equal("25000", sale[7]);

        var commission = Assert.Single(await ExportAsync("commissions"), r => r[3] == invoice);
        Assert.Equal(referrer.Str("user_id"), commission[1]);
        Assert.Equal("12500", commission[8]);

        var payouts = await ExportAsync("payouts");
        Assert.StartsWith("payout_id,user_id,amount_sats", string.Join(',', payouts[0]));

        // A window that ends before the sale excludes it; one that starts before includes it.
        Assert.DoesNotContain(await ExportAsync("sales", "?to=2000-01-01"), r => r[0] == invoice);
        Assert.Contains(await ExportAsync("sales", $"?from={DateTimeOffset.UtcNow.AddHours(-1):O}".Replace("+", "%2B", StringComparison.Ordinal)), r => r[0] == invoice);
    }

    [Fact]
    public async Task Exports_need_an_admin_key_and_a_known_kind_and_a_valid_window()
    {
        await (await app.Client(null).GetAsync("/api/v1/admin/exports/users.csv")).AssertProblemAsync(401, "unauthorized");
        var website = await app.CreateKeyAsync("website");
        await (await app.Client(website).GetAsync("/api/v1/admin/exports/users.csv")).AssertProblemAsync(403, "forbidden");
        await (await app.Admin().GetAsync("/api/v1/admin/exports/passwords.csv")).AssertProblemAsync(404, "not_found");
        await (await app.Admin().GetAsync("/api/v1/admin/exports/users.json")).AssertProblemAsync(404, "not_found");
        await (await app.Admin().GetAsync("/api/v1/admin/exports/users.csv?from=soon")).AssertProblemAsync(400, "bad_request");
        await (await app.Admin().GetAsync("/api/v1/admin/exports/users.csv?from=2026-02-01&to=2026-01-01")).AssertProblemAsync(400, "bad_request");
    }

    private async Task<List<string[]>> ExportAsync(string kind, string query = "")
    {
        var response = await app.Admin().GetAsync($"/api/v1/admin/exports/{kind}.csv{query}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal($"{kind}.csv", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        Assert.EndsWith("\r\n", text);
        var rows = CsvReader.Parse(text);
        Assert.All(rows, r => Assert.Equal(rows[0].Length, r.Length));
        return rows;
    }
}
