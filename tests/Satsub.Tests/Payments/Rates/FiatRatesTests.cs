using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Payments;
using Satsub.Payments.Rates;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payments.Rates;

public sealed class FiatRatesTests : IAsyncLifetime
{
    private LocalHttpServer ticker = null!;
    private SatsubServices app = null!;
    private volatile string answer = """{"bitcoin":{"usd":50000.00}}""";
    private volatile int status = 200;
    private volatile int delayMs;
    private int calls;

    public async Task InitializeAsync()
    {
        ticker = await LocalHttpServer.StartAsync(web => web.MapGet("/price", async (HttpContext ctx) =>
        {
            Interlocked.Increment(ref calls);
            if (delayMs > 0) await Task.Delay(delayMs);
            ctx.Response.StatusCode = status;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(answer);
        }));
        app = await SatsubServices.StartAsync(DbKind.Sqlite, new Dictionary<string, string?>
        {
            ["Payments:Rates:Url"] = new Uri(ticker.BaseUri, "price?ids=bitcoin&vs_currencies={currency}").ToString(),
            ["Payments:Rates:JsonPath"] = "bitcoin.{currency}",
            // 5 s: a loaded CI machine once took more than 1 s for the first call; the time-out test delays 8 s.
            ["Payments:Rates:TimeoutSeconds"] = "5",
            ["Payments:Rates:MaxAgeSeconds"] = "60",
            ["Plans:dollar:Name"] = "Dollar plan",
            ["Plans:dollar:Description"] = "Priced in USD",
            ["Plans:dollar:FiatPrice"] = "9.99",
            ["Plans:dollar:FiatCurrency"] = "USD",
            ["Plans:dollar:DurationDays"] = "30",
        });
    }

    public async Task DisposeAsync()
    {
        await app.DisposeAsync();
        await ticker.DisposeAsync();
    }

    [Theory]
    [InlineData("9.99", "50000", 19_980)]
    [InlineData("10", "30000", 33_334)] // 33,333.33… rounds up: the buyer never pays less than the price
    [InlineData("0.01", "100000", 10)]
    public void Convert_RoundsWhatTheBuyerOwesUp(string fiat, string price, long sats) =>
        Assert.Equal(sats, FiatRates.Convert(decimal.Parse(fiat, System.Globalization.CultureInfo.InvariantCulture), decimal.Parse(price, System.Globalization.CultureInfo.InvariantCulture)).Value);

    [Fact]
    public async Task BuyingAFiatPlan_ConvertsOnceAndRecordsTheRateAndItsSource()
    {
        var buyer = await app.RegisterAsync();
        var invoice = await app.BuyAsync(buyer.Id, "dollar");

        Assert.Equal(19_980, invoice.AmountSats);
        var stored = await app.DbAsync(db => db.Invoices.SingleAsync(i => i.Id == invoice.Id));
        Assert.Equal(9.99m, stored.FiatAmount);
        Assert.Equal("USD", stored.FiatCurrency);
        Assert.Equal(50000m, stored.FiatRate);
        Assert.StartsWith(ticker.BaseUri.ToString(), stored.FiatRateSource, StringComparison.Ordinal);

        // A second purchase within the maximum age uses the cached rate.
        var before = calls;
        await app.BuyAsync(buyer.Id, "dollar");
        Assert.Equal(before, calls);
    }

    [Fact]
    public async Task ARateSourceThatFailsOrIsSlow_Is503AndCreatesNothing()
    {
        app.Clock.Advance(TimeSpan.FromMinutes(5)); // past the cache's maximum age
        var buyer = await app.RegisterAsync();
        var invoicesBefore = await app.DbAsync(db => db.Invoices.CountAsync());

        status = 500;
        var failed = await Assert.ThrowsAsync<DomainException>(() => app.BuyAsync(buyer.Id, "dollar"));
        Assert.Equal(("fiat_rate_unavailable", 503), (failed.Code, failed.Status));

        status = 200;
        answer = """{"bitcoin":{"eur":1}}""";
        Assert.Equal("fiat_rate_unavailable", (await Assert.ThrowsAsync<DomainException>(() => app.BuyAsync(buyer.Id, "dollar"))).Code);

        answer = """{"bitcoin":{"usd":50000.00}}""";
        delayMs = 8000;
        Assert.Equal("fiat_rate_unavailable", (await Assert.ThrowsAsync<DomainException>(() => app.BuyAsync(buyer.Id, "dollar"))).Code);
        delayMs = 0;

        Assert.Equal(invoicesBefore, await app.DbAsync(db => db.Invoices.CountAsync()));
    }

    [Fact]
    public void InvoiceQr_IsAPngOfThePaymentUri()
    {
        var png = InvoiceQrApi.Render("lightning:lnbc1pvjluezsp5zyg3zyg3");
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, png[..4]);
        Assert.Equal(png, InvoiceQrApi.Render("LIGHTNING:LNBC1PVJLUEZSP5ZYG3ZYG3"));
        Assert.NotEqual(png, InvoiceQrApi.Render("bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=0.0001"));
    }
}
