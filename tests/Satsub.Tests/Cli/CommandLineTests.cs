using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Satsub.Tests.Cli;

/// <summary>The README's promises about the <c>satsub</c> command, checked on the real executable.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("satsub-cli-").FullName;

    private Dictionary<string, string> Env(string environment = "Development") => new()
    {
        ["DOTNET_ENVIRONMENT"] = environment,
        ["ConnectionStrings__Satsub"] = $"Data Source={Path.Combine(dir, "data", "satsub.db")}",
    };

    [Fact]
    public async Task ApiKeyCreate_PrintsTheKeyAloneOnTheLastLineOfStdout()
    {
        var created = await SatsubProcess.RunAsync(dir, Env(), "apikey", "create", "--name", "x", "--scopes", "admin");

        Assert.Equal(0, created.ExitCode);
        var key = Assert.Single(created.StdoutLines);
        Assert.Matches("^sk_[0-9A-Za-z]{40}$", key);

        var listed = await SatsubProcess.RunAsync(dir, Env(), "apikey", "list");
        Assert.Equal(0, listed.ExitCode);
        Assert.Contains("\tx\tadmin\t", listed.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(key, listed.Stdout + listed.Stderr, StringComparison.Ordinal);
        var id = listed.StdoutLines[1].Split('\t')[0];

        var revoked = await SatsubProcess.RunAsync(dir, Env(), "apikey", "revoke", id);
        Assert.Equal(0, revoked.ExitCode);
        Assert.Equal("-", listed.StdoutLines[1].Split('\t')[^1]);
        var revokedColumn = (await SatsubProcess.RunAsync(dir, Env(), "apikey", "list")).StdoutLines[1].Split('\t')[^1];
        Assert.True(DateTimeOffset.TryParse(revokedColumn, System.Globalization.CultureInfo.InvariantCulture, out _), revokedColumn);
    }

    [Fact]
    public async Task PlansList_ShowsTheTwoDemoPlans()
    {
        var result = await SatsubProcess.RunAsync(dir, Env(), "plans", "list");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains(result.StdoutLines, l => l.StartsWith("basic\tyes\t10000 sats\t30", StringComparison.Ordinal));
        Assert.Contains(result.StdoutLines, l => l.StartsWith("premium\tyes\t", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Affiliate__BaseBps", "12000", "Affiliate:BaseBps")]
    [InlineData("Affiliate__BaseBps", "lots", "Affiliate:BaseBps")]
    [InlineData("Bitcoin__Network", "dogecoin", "Bitcoin:Network")]
    [InlineData("Database__Provider", "mysql", "Database:Provider")]
    [InlineData("Plans__basic__DurationDays", "0", "Plans:basic:DurationDays")]
    public async Task AWrongSetting_StopsWithExitCode2AndALineNamingIt(string variable, string value, string key)
    {
        var env = Env();
        env[variable] = value;
        var result = await SatsubProcess.RunAsync(dir, env, "migrate");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains(key, StringComparison.Ordinal));
        Assert.StartsWith("satsub: configuration error:", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Production_WithoutAPaymentProvider_StopsAndSaysWhichSettingToAdd()
    {
        var result = await SatsubProcess.RunAsync(dir, Env("Production"), "serve");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Payments:Provider is not set", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Production_RefusesTheSandbox()
    {
        var env = Env("Production");
        env["Payments__Provider"] = "sandbox";
        var result = await SatsubProcess.RunAsync(dir, env, "serve");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("refused in Production", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_WithNoConfigurationAtAll_AnswersHealthAndSaysHowToTurnTheBotOn()
    {
        var port = FreePort();
        var env = new Dictionary<string, string> { ["DOTNET_ENVIRONMENT"] = "Development", ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" };
        using var process = Process.Start(SatsubProcess.StartInfo(dir, env, "serve"))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var status = HttpStatusCode.ServiceUnavailable;
            for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline && status != HttpStatusCode.OK;)
            {
                try { status = (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health"))).StatusCode; }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { await Task.Delay(200); }
            }
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(File.Exists(Path.Combine(dir, "data", "satsub.db")), "the SQLite file lives under ./data/");
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        Assert.Contains("Telegram:BotToken", await stdout, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
