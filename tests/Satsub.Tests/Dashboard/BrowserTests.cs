using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Satsub.ApiKeys;
using Satsub.Data;
using Satsub.Payments;
using Satsub.Payouts;
using Satsub.Settlement;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Transparency;
using Satsub.Users;

namespace Satsub.Tests.Dashboard;

/// <summary>The real app on Kestrel with a few sandbox sales and a payout waiting for approval, and one Chromium for the class.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public SatsubServer Server { get; private set; } = null!;
    public Browser Browser { get; private set; } = null!;
    public string AdminKey { get; private set; } = "";
    public string WebsiteKey { get; private set; } = "";
    public List<Guid> Payouts { get; } = [];

    public async Task InitializeAsync()
    {
        Server = await SatsubServer.StartAsync(new Dictionary<string, string?>
        {
            ["Payments:Provider"] = "sandbox",
            ["Payouts:Provider"] = "manual",
            ["Payouts:AutoApproveMaxSats"] = "1000",
            ["Affiliate:HoldDays"] = "0",
            ["Affiliate:Tiers:0:Name"] = "Silver",
            ["Affiliate:Tiers:0:MinPayingCustomers"] = "10",
            ["Affiliate:Tiers:0:BonusBps"] = "500",
            ["Transparency:SigningKeyWif"] = ReportSignerTests.Wif,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        Browser = await Browser.LaunchAsync();
        AdminKey = (await Server.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("owner", "admin", default))).Item2;
        WebsiteKey = (await Server.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("site", "website", default))).Item2;

        var affiliate = await RegisterAsync(null);
        for (var i = 0; i < 3; i++)
        {
            var buyer = await RegisterAsync(affiliate.ReferralCode);
            var (_, invoice) = await Server.WithAsync<PurchaseService, (Subscription, Invoice)>(p => p.StartAsync(buyer.Id, i == 0 ? "premium" : "basic", PaymentMethod.Lightning, default));
            await Server.WithAsync<SettlementService, SettlementResult>(s => s.SettleAsync(invoice.Id, new PaymentEvidence("sandbox", "browser-" + invoice.Id.ToString("N"))));
        }
        await RegisterAsync(null);
        for (var i = 0; i < 2; i++)
        {
            var payout = await Server.WithAsync<PayoutService, Payout>(s => s.RequestAsync(affiliate.Id, 3_000 + i, "alice@wallet.example", default));
            Payouts.Add(payout.Id);
        }
    }

    private Task<User> RegisterAsync(string? referral) =>
        Server.WithAsync<UserRegistration, User>(async r =>
        {
            var id = Random.Shared.NextInt64(1, long.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return (await r.RegisterAsync(new RegistrationRequest("telegram", id, "user" + id, referral), default)).Item1;
        });

    public Task<T> DbAsync<T>(Func<SatsubDbContext, Task<T>> query) => Server.WithAsync(query);

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        if (Server is not null) await Server.DisposeAsync();
    }
}

[Trait("Category", "Browser")]
public sealed class BrowserTests(BrowserFixture fx) : IClassFixture<BrowserFixture>
{
    private string Url(string path) => new Uri(fx.Server.BaseUri, path).ToString();

    /// <summary>The chart's canvas has a size and drawn (non-transparent) pixels.</summary>
    private static Task<JsonElement> CanvasAsync(IPage page, string selector) =>
        page.EvaluateAsync<JsonElement>(@"sel => {
            const c = document.querySelector(sel);
            const ctx = c.getContext('2d');
            const data = ctx.getImageData(0, 0, c.width, c.height).data;
            let drawn = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) drawn++;
            return { width: c.width, height: c.height, drawn, cssWidth: c.getBoundingClientRect().width };
        }", selector);

    [Theory]
    [InlineData(1280, 800, false)]
    [InlineData(390, 844, true)]
    public async Task TransparencyPage_RendersItsChart(int width, int height, bool phone)
    {
        var (context, page, errors) = await fx.Browser.PageAsync(width, height, phone);
        await using var _ = context;
        var response = await page.GotoAsync(Url("transparency"));
        Assert.Equal(200, response!.Status);
        await page.WaitForSelectorAsync("canvas#months-chart-canvas[data-rendered=true]");

        var canvas = await CanvasAsync(page, "#months-chart-canvas");
        Assert.True(canvas.GetProperty("width").GetInt32() > 0 && canvas.GetProperty("height").GetInt32() > 0);
        Assert.True(canvas.GetProperty("drawn").GetInt32() > 500, $"the chart drew only {canvas.GetProperty("drawn").GetInt32()} pixels");
        Assert.True(canvas.GetProperty("cssWidth").GetDouble() <= width);

        Assert.Contains("50%", await page.InnerTextAsync("#rules"));
        Assert.Contains("Silver", await page.InnerTextAsync("#tiers"));
        Assert.Contains("3 · 45,000 sats", await page.InnerTextAsync("#totals"));
        Assert.NotEmpty(await page.InnerTextAsync("#signing-address"));
        // Readable on a phone: nothing wider than the screen (wide tables scroll inside their own box).
        var scrollWidth = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= width, $"the page is {scrollWidth}px wide on a {width}px screen");
        Assert.Empty(errors);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Path.GetTempPath(), $"satsub-transparency-{width}.png"), FullPage = true });
    }

    [Fact]
    public async Task Dashboard_SignIn_ThenApproveAPayout()
    {
        var (context, page, errors) = await fx.Browser.PageAsync(1280, 900);
        await using var _ = context;
        await page.GotoAsync(Url("admin"));
        Assert.EndsWith("/admin/login", new Uri(page.Url).AbsolutePath, StringComparison.Ordinal);

        await page.FillAsync("#key", fx.AdminKey);
        await page.ClickAsync("#sign-in button[type=submit]");
        await page.WaitForSelectorAsync("#kpis");
        Assert.Equal("/admin", new Uri(page.Url).AbsolutePath);
        var cookie = (await context.CookiesAsync()).Single(c => c.Name == "__Host-satsub-admin");
        Assert.True(cookie.HttpOnly);
        Assert.True(cookie.Secure);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

        await page.WaitForSelectorAsync("canvas#days-chart-canvas[data-rendered=true]");
        Assert.True((await CanvasAsync(page, "#days-chart-canvas")).GetProperty("drawn").GetInt32() > 100);
        Assert.True((await CanvasAsync(page, "#split-chart-canvas")).GetProperty("drawn").GetInt32() > 100);
        Assert.Contains("basic", await page.InnerTextAsync("#plans"));

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Path.GetTempPath(), "satsub-dashboard.png"), FullPage = true });

        var payout = fx.Payouts[0];
        var row = page.Locator($"tr[data-payout='{payout:D}']");
        Assert.Equal("requested", await row.Locator(".status").InnerTextAsync());
        await row.Locator("button.approve").ClickAsync();
        await page.WaitForSelectorAsync("#notice");
        Assert.Contains("approved", await page.InnerTextAsync("#notice"));
        Assert.Equal("approved", await page.Locator($"tr[data-payout='{payout:D}'] .status").InnerTextAsync());

        var status = await fx.DbAsync(db => db.Payouts.Where(p => p.Id == payout).Select(p => p.Status).SingleAsync());
        Assert.Equal(PayoutStatus.Approved, status);
        var audit = await fx.DbAsync(db => db.AuditEntries.Where(a => a.Target == payout.ToString("D") || a.Action == "dashboard.sign_in").Select(a => a.Action).ToListAsync());
        Assert.Contains("payout.approve", audit);
        Assert.Contains("dashboard.sign_in", audit);

        await page.ClickAsync("#sign-out");
        await page.WaitForSelectorAsync("#sign-in");
        await page.GotoAsync(Url("admin"));
        Assert.EndsWith("/admin/login", new Uri(page.Url).AbsolutePath, StringComparison.Ordinal);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Dashboard_WrongKey_IsRefusedAndAudited()
    {
        var (context, page, _) = await fx.Browser.PageAsync(390, 844, mobile: true);
        await using var __ = context;
        var before = await fx.DbAsync(db => db.AuditEntries.CountAsync(a => a.Action == "dashboard.sign_in_failed"));
        foreach (var wrong in new[] { "sk_notakeyatall", fx.WebsiteKey, fx.AdminKey[..^1] + (fx.AdminKey[^1] == 'a' ? 'b' : 'a') })
        {
            await page.GotoAsync(Url("admin/login"));
            await page.FillAsync("#key", wrong);
            var posted = page.WaitForResponseAsync(r => r.Request.Method == "POST" && r.Url.EndsWith("/admin/login", StringComparison.Ordinal));
            await page.ClickAsync("#sign-in button[type=submit]");
            Assert.Equal(401, (await posted).Status);
            await page.WaitForSelectorAsync("#sign-in-error");
            Assert.Contains("not a valid admin API key", await page.InnerTextAsync("#sign-in-error"));
            Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == "__Host-satsub-admin");
        }
        await page.GotoAsync(Url("admin"));
        Assert.EndsWith("/admin/login", new Uri(page.Url).AbsolutePath, StringComparison.Ordinal);
        var failed = await fx.DbAsync(db => db.AuditEntries.Where(a => a.Action == "dashboard.sign_in_failed").ToListAsync());
        Assert.Equal(before + 3, failed.Count);
        Assert.All(failed, a => Assert.DoesNotContain("sk_", a.Details ?? "", StringComparison.Ordinal));
    }
}
