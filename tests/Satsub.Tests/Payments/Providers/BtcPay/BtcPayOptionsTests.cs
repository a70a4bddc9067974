using System.Text.RegularExpressions;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NBitcoin;
using Satsub.Common;
using Satsub.Payments;
using Satsub.Payments.Providers.BtcPay;

namespace Satsub.Tests.Payments.Providers.BtcPay;

public sealed partial class BtcPayOptionsTests
{
    private static Dictionary<string, string?> Settings(params (string Key, string? Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Payments:Provider"] = "btcpay",
            ["Payments:BtcPay:Url"] = "https://btcpay.example.com",
            ["Payments:BtcPay:ApiKey"] = "key",
            ["Payments:BtcPay:StoreId"] = "Store1",
            ["Payments:BtcPay:WebhookSecret"] = "secret",
        };
        foreach (var (key, value) in overrides) settings[key] = value;
        return settings;
    }

    private static IReadOnlyList<string> Failures(Dictionary<string, string?> settings)
    {
        var ex = Assert.Throws<OptionsValidationException>(() => BtcPayHarness.BuildHost(settings).Dispose());
        return ex.Failures.ToList();
    }

    [Fact]
    public void Start_WithBtcPaySelectedAndNothingSet_NamesEveryMissingSetting()
    {
        var failures = Failures(new Dictionary<string, string?> { ["Payments:Provider"] = "btcpay" });

        Assert.Contains(failures, f => f.StartsWith("Payments:BtcPay:Url is not set", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payments:BtcPay:ApiKey is not set", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payments:BtcPay:StoreId is not set", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Payments:BtcPay:WebhookSecret is not set", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Payments:BtcPay:Url", "btcpay.example.com", "Payments:BtcPay:Url must be an absolute https address")]
    [InlineData("Payments:BtcPay:Url", "ftp://btcpay.example.com", "Payments:BtcPay:Url must be an absolute https address")]
    [InlineData("Payments:BtcPay:Url", "http://btcpay.example.com", "Payments:BtcPay:Url must use https: plain http is allowed only on the loopback")]
    [InlineData("Payments:BtcPay:Url", "http://10.0.0.5:23001", "Payments:BtcPay:Url must use https")]
    [InlineData("Payments:BtcPay:Url", "https://admin:pw@btcpay.example.com", "Payments:BtcPay:Url must not contain a user name or password")]
    [InlineData("Payments:BtcPay:StoreId", "../admin", "Payments:BtcPay:StoreId must be the store's id")]
    [InlineData("Payments:BtcPay:SpeedPolicy", "Fast", "Payments:BtcPay:SpeedPolicy must be HighSpeed")]
    [InlineData("Payments:BtcPay:TimeoutSeconds", "0", "Payments:BtcPay:TimeoutSeconds must be between 1 and 300 (was 0)")]
    public void Start_WithAWrongSetting_NamesIt(string key, string value, string message)
    {
        var failures = Failures(Settings((key, value)));

        var failure = Assert.Single(failures);
        Assert.StartsWith(message, failure);
        if (key.EndsWith("Url", StringComparison.Ordinal)) Assert.DoesNotContain("pw", failure);
    }

    [Theory]
    [InlineData("http://127.0.0.1:23001")]
    [InlineData("http://localhost:23001/btcpay")]
    [InlineData("http://[::1]:23001")]
    [InlineData("https://btcpay.example.com/")]
    public void Start_WithHttpsOrLoopbackHttp_IsAccepted(string url)
    {
        using var host = BtcPayHarness.BuildHost(Settings(("Payments:BtcPay:Url", url)));

        var options = host.Services.GetRequiredService<IOptions<BtcPayOptions>>().Value;
        Assert.Equal(10, options.TimeoutSeconds);
        Assert.Equal("MediumSpeed", options.SpeedPolicyName);
    }

    [Fact]
    public void Start_WithBtcPayForLightningOnly_RegistersItForThatMethod()
    {
        using var host = BtcPayHarness.BuildHost(Settings(("Payments:Provider", "sandbox"), ("Payments:Lightning:Provider", "BTCPay")), "Development");
        var providers = host.Services.GetRequiredService<PaymentProviders>();

        Assert.Equal("btcpay", providers.For(PaymentMethod.Lightning).Name);
        Assert.Equal("sandbox", providers.For(PaymentMethod.Onchain).Name);
        Assert.NotNull(providers.WebhookAuthenticator("btcpay"));
        Assert.Equal("btcpay", providers.WebhookAuthenticator("btcpay")!.Provider);
    }

    [Fact]
    public void Start_WithoutBtcPay_NeedsNoneOfItsSettings()
    {
        using var host = BtcPayHarness.BuildHost(new Dictionary<string, string?> { ["Payments:Provider"] = "sandbox" }, "Development");

        Assert.Null(host.Services.GetRequiredService<PaymentProviders>().ByName("btcpay"));
    }

    [Theory]
    [InlineData("https://btcpay.example.com", "https://btcpay.example.com/api/v1/invoices/I1")]
    [InlineData("https://example.com/btcpay", "https://example.com/btcpay/api/v1/invoices/I1")]
    [InlineData("https://example.com/btcpay/", "https://example.com/btcpay/api/v1/invoices/I1")]
    public void Url_KeepsAPathPrefix(string url, string expected) =>
        Assert.Equal(expected, new Uri(new BtcPayOptions { Url = url }.BaseUri, "api/v1/invoices/I1").ToString());

    // ------------------------------------------------------------ amounts at BTCPay's edge

    [Theory]
    [InlineData(1L, "0.00000001")]
    [InlineData(10_000L, "0.0001")]
    [InlineData(25_001L, "0.00025001")]
    [InlineData(100_000_000L, "1")]
    [InlineData(123_456_789L, "1.23456789")]
    [InlineData(Sats.MaxMoney, "21000000")]
    public void BtcString_IsInvariantWithAtMostEightDecimals(long sats, string expected) =>
        Assert.Equal(expected, BtcPayAmounts.ToBtcString(new Sats(sats)));

    [Fact]
    public void BtcString_RoundTripsEveryPayableAmount() =>
        Gen.Long[1, Sats.MaxMoney].Sample(sats =>
        {
            var text = BtcPayAmounts.ToBtcString(new Sats(sats));
            return BtcDecimal().IsMatch(text)
                && BtcPayAmounts.OwedToSats(decimal.Parse(text, System.Globalization.CultureInfo.InvariantCulture)).Value == sats
                && BtcPayAmounts.PaidToSats(decimal.Parse(text, System.Globalization.CultureInfo.InvariantCulture)).Value == sats;
        });

    [GeneratedRegex(@"^[0-9]+(\.[0-9]{0,7}[1-9])?$")]
    private static partial Regex BtcDecimal();

    [Theory]
    [InlineData("0.00010000001", 10_001L, 10_000L)]
    [InlineData("0.00009999999", 10_000L, 9_999L)]
    [InlineData("0.0001", 10_000L, 10_000L)]
    public void Millisatoshis_RoundUpWhenOwedAndDownWhenPaid(string btc, long owed, long paid)
    {
        var value = decimal.Parse(btc, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(owed, BtcPayAmounts.OwedToSats(value).Value);
        Assert.Equal(paid, BtcPayAmounts.PaidToSats(value).Value);
    }

    [Theory]
    [InlineData("lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs", "mainnet", "Expected")]
    [InlineData("lnbc2500u1pvjluezsp5zyg3zyg3", "mainnet", "Expected")]
    [InlineData("LNBC20M1PVJLUEZ", "mainnet", "Expected")]
    [InlineData("lightning:lnbc10n1pvjluez", "mainnet", "Expected")]
    [InlineData("lnbcrt10u1pvjluez", "mainnet", "Other")]
    [InlineData("lntb10u1pvjluez", "mainnet", "Other")]
    [InlineData("lnbcrt10u1pvjluez", "regtest", "Expected")]
    [InlineData("lnbc10u1pvjluez", "regtest", "Other")]
    [InlineData("lntb10u1pvjluez", "testnet", "Expected")]
    [InlineData("lntbs10u1pvjluez", "testnet", "Other")]
    [InlineData("lntbs10u1pvjluez", "signet", "Expected")]
    [InlineData("lntb10u1pvjluez", "signet", "Other")]
    [InlineData("lnltc10u1pvjluez", "mainnet", "Unknown")]
    [InlineData("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "mainnet", "Unknown")]
    [InlineData("", "mainnet", "Unknown")]
    public void Bolt11_IsCheckedAgainstBitcoinNetwork(string bolt11, string network, string expected) =>
        Assert.Equal(expected, BtcPayAmounts.Bolt11Network(bolt11, new Satsub.Bitcoin.BitcoinOptions { Network = network }.ToNBitcoin()).ToString());

    [Fact]
    public void Address_IsCheckedAgainstBitcoinNetwork()
    {
        var mainnet = new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.Main).ToString();
        var regtest = new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.RegTest).ToString();

        Assert.Equal(DestinationNetwork.Expected, BtcPayAmounts.AddressNetwork(mainnet, Network.Main));
        Assert.Equal(DestinationNetwork.Other, BtcPayAmounts.AddressNetwork(regtest, Network.Main));
        Assert.Equal(DestinationNetwork.Other, BtcPayAmounts.AddressNetwork(mainnet, Network.RegTest));
        Assert.Equal(DestinationNetwork.Expected, BtcPayAmounts.AddressNetwork("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", Network.Main));
        Assert.Equal(DestinationNetwork.Unknown, BtcPayAmounts.AddressNetwork("bc1qnotanaddress", Network.Main));
        Assert.Equal(DestinationNetwork.Unknown, BtcPayAmounts.AddressNetwork("not an address", Network.Main));
    }
}
