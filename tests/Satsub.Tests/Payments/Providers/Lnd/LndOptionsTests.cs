using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Satsub.Payments;
using Satsub.Payments.Providers.Lnd;

namespace Satsub.Tests.Payments.Providers.Lnd;

public sealed class LndOptionsTests
{
    private const string Thumbprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

    private static string[] Failures(Dictionary<string, string?> settings)
    {
        using var host = LndTestHost.Create(settings);
        try
        {
            _ = host.Services.GetRequiredService<IOptions<LndOptions>>().Value;
            return [];
        }
        catch (OptionsValidationException e)
        {
            return e.Failures.ToArray();
        }
    }

    private static Dictionary<string, string?> Valid() => new()
    {
        ["Payments:Lnd:Url"] = "https://lnd.example:8080",
        ["Payments:Lnd:MacaroonHex"] = FakeLnd.Macaroon,
        ["Payments:Lnd:TlsCertThumbprint"] = Thumbprint,
    };

    private static Dictionary<string, string?> With(params (string Key, string? Value)[] changes)
    {
        var s = Valid();
        foreach (var (key, value) in changes) s["Payments:Lnd:" + key] = value;
        return s;
    }

    [Fact]
    public void ValidSettings_PassWithTheDocumentedDefaults()
    {
        Assert.Empty(Failures(Valid()));
        Assert.Empty(Failures(With(("Url", "http://127.0.0.1:8080"), ("TlsCertThumbprint", null))));
        Assert.Empty(Failures(With(("Url", "http://localhost:8080/"), ("TlsCertThumbprint", null))));
        Assert.Empty(Failures(With(("Url", "http://[::1]:8080"), ("TlsCertThumbprint", null))));
        Assert.Empty(Failures(With(("TlsCertThumbprint", Thumbprint.Replace(":", "").ToLowerInvariant()))));
        Assert.Equal(10, new LndOptions().TimeoutSeconds);
    }

    public static TheoryData<string, string?, string> Broken => new()
    {
        { "Url", null, "Payments:Lnd:Url is required when the lnd provider is selected" },
        { "Url", "lnd.example:8080", "Payments:Lnd:Url must be an absolute http(s) URL" },
        { "Url", "http://lnd.example:8080", "Payments:Lnd:Url must use https" },
        { "Url", "http://10.0.0.5:8080", "Payments:Lnd:Url must use https" },
        { "Url", "https://user:pw@lnd.example:8080", "Payments:Lnd:Url must not carry credentials" },
        { "MacaroonHex", null, "Payments:Lnd:MacaroonHex or Payments:Lnd:MacaroonPath is required" },
        { "MacaroonHex", "not-hex", "Payments:Lnd:MacaroonHex must be the macaroon in hexadecimal" },
        { "MacaroonPath", "/nonexistent/invoice.macaroon", "Payments:Lnd:MacaroonHex or Payments:Lnd:MacaroonPath is required when the lnd provider is selected: set exactly one" },
        { "TlsCertThumbprint", null, "Payments:Lnd:TlsCertPath or Payments:Lnd:TlsCertThumbprint is required for an https Url" },
        { "TlsCertThumbprint", "abcd", "Payments:Lnd:TlsCertThumbprint must be the certificate's SHA-256 fingerprint" },
        { "TlsCertPath", "/nonexistent/tls.cert", "Payments:Lnd:TlsCertPath and Payments:Lnd:TlsCertThumbprint are exclusive" },
        { "TimeoutSeconds", "0", "Payments:Lnd:TimeoutSeconds must be between 1 and 300 (was 0)" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void BrokenSettings_AreRefused_WithAMessageNamingTheKey(string key, string? value, string expected)
    {
        var failures = Failures(With((key, value)));
        Assert.Contains(failures, f => f.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void MissingFiles_AreNamed()
    {
        Assert.Contains(Failures(With(("MacaroonHex", null), ("MacaroonPath", "/nonexistent/invoice.macaroon"))),
            f => f.StartsWith("Payments:Lnd:MacaroonPath: the file '/nonexistent/invoice.macaroon' does not exist", StringComparison.Ordinal));
        Assert.Contains(Failures(With(("TlsCertThumbprint", null), ("TlsCertPath", "/nonexistent/tls.cert"))),
            f => f.StartsWith("Payments:Lnd:TlsCertPath: '/nonexistent/tls.cert' is not a readable certificate file", StringComparison.Ordinal));
    }

    [Fact]
    public void APin_OverPlainHttp_IsRefused()
    {
        Assert.Contains(Failures(With(("Url", "http://127.0.0.1:8080"))), f => f.Contains("have no effect over plain http", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SelectingLnd_InPayments_RegistersTheProvider_AndFailsTheStartWhenItsSettingsAreMissing()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Payments:Provider"] = "lnd",
            ["Payments:Lnd:Url"] = "http://127.0.0.1:8080",
            ["Payments:Lnd:MacaroonHex"] = FakeLnd.Macaroon,
        });
        builder.AddPayments();
        using (var host = builder.Build())
            Assert.IsType<LndPaymentProvider>(host.Services.GetRequiredService<PaymentProviders>().For(PaymentMethod.Lightning));

        var missing = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        missing.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Payments:Provider"] = "lnd" });
        missing.AddPayments();
        using var failing = missing.Build();
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => failing.StartAsync());
        Assert.Contains("Payments:Lnd:Url is required when the lnd provider is selected", e.Message, StringComparison.Ordinal);
    }
}
