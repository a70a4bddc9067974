using System.Text.RegularExpressions;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Operations;

/// <summary>
/// Runs after every other test (<see cref="LastCollection"/>) and scans every log line the suite's hosts and child
/// processes wrote for the secrets the tests actually used, and for anything shaped like a secret.
/// </summary>
[Collection(LastCollection.Name)]
public sealed partial class LogSecretsTests
{
    // Shapes of secrets, whether or not a test registered them.
    private static readonly (string What, Regex Pattern)[] Shapes =
    [
        ("an API key", ApiKey()),
        ("a webhook signing secret", WebhookSecret()),
        ("a Telegram bot token", BotToken()),
        ("an LND macaroon (hex)", Macaroon()),
        ("a WIF private key", Wif()),
        ("a password in a connection string", ConnectionPassword()),
    ];

    [GeneratedRegex(@"\bsk_[0-9A-Za-z]{20,}")]
    private static partial Regex ApiKey();

    [GeneratedRegex(@"\bwhsec_[0-9a-f]{16,}")]
    private static partial Regex WebhookSecret();

    [GeneratedRegex(@"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b")]
    private static partial Regex BotToken();

    // Macaroons are serialised starting with 0x02 0x01 (version 2, location field): "0201" in hex, and long.
    [GeneratedRegex(@"\b0201[0-9a-fA-F]{60,}\b")]
    private static partial Regex Macaroon();

    // Base58 WIF: 5… (uncompressed mainnet, 51 chars), K/L… (compressed mainnet, 52), 9…/c… (testnet).
    [GeneratedRegex(@"\b([5][1-9A-HJ-NP-Za-km-z]{50}|[KLc][1-9A-HJ-NP-Za-km-z]{51})\b")]
    private static partial Regex Wif();

    [GeneratedRegex(@"Password=(?!\*)[^;""\s]+", RegexOptions.IgnoreCase)]
    private static partial Regex ConnectionPassword();

    [Fact]
    public void No_log_line_of_the_whole_suite_holds_a_secret()
    {
        Assert.False(LogCapture.Overflowed, $"More than {LogCapture.MaxLines} log lines: the capture stopped, so the scan would be incomplete.");
        var lines = LogCapture.All.ToList();
        var secrets = LogCapture.KnownSecrets;
        var leaks = new List<string>();
        foreach (var line in lines)
        {
            foreach (var (secret, what) in secrets)
                if (line.Contains(secret, StringComparison.Ordinal)) leaks.Add($"{what}: {Redact(line, secret)}");
            foreach (var (what, pattern) in Shapes)
                if (pattern.Match(line) is { Success: true } m) leaks.Add($"{what}: {Redact(line, m.Value)}");
        }
        Assert.True(leaks.Count == 0, $"{leaks.Count} log line(s) hold a secret (of {lines.Count} scanned):\n" + string.Join("\n", leaks.Distinct().Take(20)));
    }

    /// <summary>The scan itself: each shape and each registered secret is found where it is, and only there.</summary>
    [Theory]
    [InlineData("authenticated with sk_AbCdEfGh0123456789012345678901234567890a", true)]
    [InlineData("key sk_AbCdEfGh… listed", false)]
    [InlineData("secret whsec_0123456789abcdef0123456789abcdef", true)]
    [InlineData("token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0 in url", true)]
    [InlineData("macaroon 0201036c6e6402f801030a10b2fcbd5bcad6b1f2c1d7c2e1d7c2e1d7c2e1d7c2e1d7c2e1", true)]
    [InlineData("wif KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn here", true)]
    [InlineData("Host=db;Password=hunter2hunter2;Database=x", true)]
    [InlineData("Host=db;Password=***;Database=x", false)]
    [InlineData("invoice 3f0c1a2b-7d6e-4f00-9a8b-123456789abc settled for 10000 sats", false)]
    public void The_scan_recognises_secret_shapes(string line, bool leak)
    {
        Assert.Equal(leak, Shapes.Any(s => s.Pattern.IsMatch(line)));
    }

    [Fact]
    public void The_capture_saw_the_suite()
    {
        // Guards against a fixture losing its capture: the scan above would pass on nothing.
        Assert.True(LogCapture.Count > 0, "no log line was captured");
        Assert.NotEmpty(LogCapture.KnownSecrets);
    }

    private static string Redact(string line, string secret)
    {
        var shown = secret.Length > 8 ? secret[..6] + "…" : "…";
        var text = line.Replace(secret, $"<{shown}>", StringComparison.Ordinal);
        return text.Length > 300 ? text[..300] + "…" : text;
    }
}
