using Microsoft.Extensions.Hosting;
using NBitcoin;
using Satsub.Common;
using Satsub.Payouts;
using static Satsub.Tests.Payouts.PayoutTestKit;

namespace Satsub.Tests.Payouts;

public sealed class PayoutDestinationTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("alice@wallet.example", PayoutDestinationKind.LightningAddress, "alice@wallet.example")]
    [InlineData("  Alice@Wallet.Example ", PayoutDestinationKind.LightningAddress, "alice@wallet.example")]
    [InlineData("lightning:bob+tips@pay.example", PayoutDestinationKind.LightningAddress, "bob+tips@pay.example")]
    [InlineData(OnchainAddress, PayoutDestinationKind.Onchain, OnchainAddress)]
    [InlineData("bitcoin:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", PayoutDestinationKind.Onchain, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")]
    [InlineData("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", PayoutDestinationKind.Onchain, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")]
    public void Parse_RecognisesEachKind(string text, PayoutDestinationKind kind, string canonical)
    {
        var destination = PayoutDestination.Parse(text, Network.Main);
        Assert.Equal(kind, destination.Kind);
        Assert.Equal(canonical, destination.Value);
    }

    [Fact]
    public void Parse_ABolt11WithAnAmount_KeepsTheInvoice_AndChecksAmountAndExpiry()
    {
        var text = Invoice(2_500, Now, expirySeconds: 600);
        var destination = PayoutDestination.Parse("lightning:" + text, Network.Main);

        Assert.Equal(PayoutDestinationKind.Bolt11, destination.Kind);
        Assert.Equal(2_500, destination.Invoice!.AmountSats);
        destination.CheckFor(2_500, Now);
        Assert.Equal("invalid_destination", Assert.Throws<DomainException>(() => destination.CheckFor(2_501, Now)).Code);
        Assert.Equal("invalid_destination", Assert.Throws<DomainException>(() => destination.CheckFor(2_500, Now.AddMinutes(11))).Code);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("@example.com")]
    [InlineData("alice@127.0.0.1")]
    [InlineData("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx")] // testnet address on mainnet
    [InlineData("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5")] // bad checksum
    [InlineData("lnbc1invalid")]
    public void Parse_RefusesAnythingElse(string text)
    {
        var e = Assert.Throws<DomainException>(() => PayoutDestination.Parse(text, Network.Main));
        Assert.Equal("invalid_destination", e.Code);
        Assert.Equal(422, e.Status);
    }

    [Fact]
    public void Parse_RefusesAnInvoiceWithoutAmount_OrForAnotherNetwork()
    {
        var noAmount = Lightning.Bolt11TestWriter.Write("lnbc", Now.ToUnixTimeSeconds(), [Lightning.Bolt11TestWriter.PaymentHashField(), Lightning.Bolt11TestWriter.SecretField(), Lightning.Bolt11TestWriter.DescriptionField("x")]);
        Assert.Equal("invalid_destination", Assert.Throws<DomainException>(() => PayoutDestination.Parse(noAmount, Network.Main)).Code);
        Assert.Equal("invalid_destination", Assert.Throws<DomainException>(() => PayoutDestination.Parse(Invoice(1_000, Now), Network.TestNet)).Code);
    }
}

public sealed class PayoutOptionsTests
{
    private static IList<string> Failures(PayoutOptions o, string environment = "Development")
    {
        var validator = new PayoutOptionsValidator(new Env(environment));
        var result = validator.Validate(null, o);
        return result.Failed ? result.Failures!.ToList() : [];
    }

    [Fact]
    public void Sandbox_IsRefusedInProduction_WithAMessageNamingTheKey()
    {
        Assert.Empty(Failures(new PayoutOptions { Provider = "sandbox" }));
        Assert.Contains(Failures(new PayoutOptions { Provider = "sandbox" }, "Production"), f => f.StartsWith("Payouts:Provider is 'sandbox'", StringComparison.Ordinal));
        Assert.Contains(Failures(new PayoutOptions { Provider = "paypal" }), f => f.Contains("Payouts:Provider must be one of", StringComparison.Ordinal));
    }

    [Fact]
    public void BadNumbers_AndAnIncompleteLndSection_AreNamed()
    {
        var failures = Failures(new PayoutOptions { Provider = "lnd", MinSats = 0, DailyCapSats = 0, FeePolicy = "buyer", Lnd = new PayoutLndOptions { Url = "https://lnd.example:8080" } });
        Assert.Contains(failures, f => f.StartsWith("Payouts:MinSats", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payouts:DailyCapSats", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payouts:FeePolicy", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payouts:Lnd:TlsCertThumbprint", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payouts:Lnd:MacaroonHex", StringComparison.Ordinal));
        Assert.Empty(Failures(new PayoutOptions { Provider = "lnd", Lnd = new PayoutLndOptions { Url = "http://127.0.0.1:8080", MacaroonHex = "0201" } }, "Production"));
    }

    [Fact]
    public async Task TheProvider_DefaultsToSandboxInDevelopment()
    {
        await using var app = await Fixtures.SatsubServices.StartAsync(Fixtures.DbKind.Sqlite);
        var options = (Microsoft.Extensions.Options.IOptions<PayoutOptions>)app.Services.GetService(typeof(Microsoft.Extensions.Options.IOptions<PayoutOptions>))!;
        Assert.Equal("sandbox", options.Value.Provider);
    }

    private sealed class Env(string name) : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = name;
        public string ApplicationName { get; set; } = "satsub";
        public string ContentRootPath { get; set; } = "/";
        public Microsoft.Extensions.FileProviders.IFileProvider ContentRootFileProvider { get; set; } = null!;
    }
}
