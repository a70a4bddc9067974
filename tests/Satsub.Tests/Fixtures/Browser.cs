using Microsoft.Playwright;

namespace Satsub.Tests.Fixtures;

/// <summary>
/// Debian's Chromium driven by Playwright for .NET: headless, no sandbox (containers run as root), no browser download
/// (Playwright's own builds cannot be fetched here; <c>test.sh</c> installs <c>chromium</c> with apt-get).
/// <c>SATSUB_CHROMIUM</c> overrides the executable.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public static string ExecutablePath => Environment.GetEnvironmentVariable("SATSUB_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private readonly IPlaywright playwright;

    private Browser(IPlaywright playwright, IBrowser chromium)
    {
        this.playwright = playwright;
        Chromium = chromium;
    }

    public IBrowser Chromium { get; }

    public static async Task<Browser> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"Chromium is not installed at {ExecutablePath}: run ./test.sh (it installs it) or apt-get install chromium.");
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var playwright = await Playwright.CreateAsync();
        var chromium = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            Timeout = 60_000,
        });
        return new Browser(playwright, chromium);
    }

    /// <summary>A fresh context (its own cookies) of the given viewport; console errors (CSP violations among them) are collected.</summary>
    public async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> PageAsync(int width, int height, bool mobile = false)
    {
        var context = await Chromium.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            IsMobile = mobile,
            HasTouch = mobile,
            DeviceScaleFactor = mobile ? 2 : 1,
        });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") lock (errors) errors.Add(m.Text); };
        page.PageError += (_, e) => { lock (errors) errors.Add(e); };
        return (context, page, errors);
    }

    public async ValueTask DisposeAsync()
    {
        await Chromium.DisposeAsync();
        playwright.Dispose();
    }
}
