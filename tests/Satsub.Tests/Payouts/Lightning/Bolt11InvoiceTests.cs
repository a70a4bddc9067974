using System.Text;
using CsCheck;
using NBitcoin;
using NBitcoin.DataEncoders;
using Satsub.Payouts.Lightning;
using static Satsub.Tests.Payouts.Lightning.Bolt11SpecVectors;
using W = Satsub.Tests.Payouts.Lightning.Bolt11TestWriter;

namespace Satsub.Tests.Payouts.Lightning;

public sealed class Bolt11InvoiceTests
{
    private static readonly DateTimeOffset SpecTime = DateTimeOffset.FromUnixTimeSeconds(Timestamp);

    // ---------------------------------------------------------------- the spec's valid examples

    [Fact]
    public void Parse_Donation_HasNoAmountAndRecoversThePayee()
    {
        var invoice = Bolt11Invoice.Parse(Donation, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal("lnbc", invoice.Prefix);
        Assert.Equal("lnbc", invoice.HumanReadablePart);
        Assert.Null(invoice.AmountMsat);
        Assert.Null(invoice.AmountSats);
        Assert.False(invoice.IsAmountWholeSatoshis);
        Assert.Equal("Please consider supporting this project", invoice.Description);
        Assert.Null(invoice.DescriptionHash);
        Assert.Equal(PaymentSecret, invoice.PaymentSecret);
        Assert.Equal(3600, invoice.ExpirySeconds);
        Assert.Equal(TimeSpan.FromHours(1), invoice.Expiry);
        Assert.Equal(SpecTime.AddHours(1), invoice.ExpiresAt);
        Assert.Equal(18, invoice.MinFinalCltvExpiry);
        Assert.Equal([8, 14], invoice.Features);
        Assert.Empty(invoice.Fallbacks);
        Assert.Empty(invoice.RouteHints);
        Assert.Null(invoice.PaymentMetadata);
        Assert.False(invoice.PayeeWasExplicit);
        Assert.Equal(Donation, invoice.ToString());
    }

    [Fact]
    public void Parse_Coffee_Reads2500MicroBitcoinAndOneMinuteExpiry()
    {
        var invoice = Bolt11Invoice.Parse(Coffee, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal("lnbc2500u", invoice.HumanReadablePart);
        Assert.Equal(250_000_000, invoice.AmountMsat);
        Assert.Equal(250_000, invoice.AmountSats);
        Assert.True(invoice.IsAmountWholeSatoshis);
        Assert.Equal("1 cup coffee", invoice.Description);
        Assert.Null(invoice.DescriptionHash);
        Assert.Equal(PaymentSecret, invoice.PaymentSecret);
        Assert.Equal(60, invoice.ExpirySeconds);
        Assert.Equal(SpecTime.AddSeconds(60), invoice.ExpiresAt);
        Assert.False(invoice.IsExpired(SpecTime.AddSeconds(59)));
        Assert.True(invoice.IsExpired(SpecTime.AddSeconds(60)));
        Assert.Equal(18, invoice.MinFinalCltvExpiry);
        Assert.Equal([8, 14], invoice.Features);
    }

    [Fact]
    public void Parse_Nonsense_ReadsAUtf8Description()
    {
        var invoice = Bolt11Invoice.Parse(Nonsense, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal(250_000_000, invoice.AmountMsat);
        Assert.Equal("ナンセンス 1杯", invoice.Description);
        Assert.Null(invoice.DescriptionHash);
        Assert.Equal(60, invoice.ExpirySeconds);
        Assert.Equal(PaymentSecret, invoice.PaymentSecret);
    }

    [Fact]
    public void Parse_HashedDescription_ReadsTheHashAndMatchesTheText()
    {
        var invoice = Bolt11Invoice.Parse(Hashed, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal(2_000_000_000, invoice.AmountMsat);
        Assert.Equal(2_000_000, invoice.AmountSats);
        Assert.Null(invoice.Description);
        Assert.Equal(ChocolateDescriptionHash, invoice.DescriptionHash);
        Assert.True(invoice.DescriptionHashMatches(ChocolateDescription));
        Assert.False(invoice.DescriptionHashMatches("One piece of chocolate cake"));
        Assert.Equal(3600, invoice.ExpirySeconds);
        Assert.Equal(PaymentSecret, invoice.PaymentSecret);
    }

    [Fact]
    public void Parse_TestnetWithP2pkhFallback_ReadsTheTestnetAddress()
    {
        var invoice = Bolt11Invoice.Parse(TestnetP2pkhFallback, Network.TestNet);

        AssertSpecPayment(invoice);
        Assert.Equal("lntb", invoice.Prefix);
        Assert.Equal(Network.TestNet, invoice.Network);
        Assert.Equal(2_000_000_000, invoice.AmountMsat);
        Assert.Equal(ChocolateDescriptionHash, invoice.DescriptionHash);
        var fallback = Assert.Single(invoice.Fallbacks);
        Assert.Equal(17, fallback.Version);
        Assert.Equal("mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP", fallback.Address.ToString());
        Assert.Equal(3600, invoice.ExpirySeconds);
    }

    [Fact]
    public void Parse_MainnetWithP2pkhFallbackAndRouteHint_ReadsBothHops()
    {
        var invoice = Bolt11Invoice.Parse(MainnetP2pkhFallbackWithRoute, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal(2_000_000_000, invoice.AmountMsat);
        Assert.Equal(ChocolateDescriptionHash, invoice.DescriptionHash);
        var fallback = Assert.Single(invoice.Fallbacks);
        Assert.Equal(17, fallback.Version);
        Assert.Equal("1RustyRX2oai4EYYDpQGWvEL62BBGqN9T", fallback.Address.ToString());

        var route = Assert.Single(invoice.RouteHints);
        Assert.Equal(2, route.Count);
        Assert.Equal("029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255", route[0].NodeId.ToHex());
        Assert.Equal(0x0102030405060708UL, route[0].ShortChannelId);
        Assert.Equal("66051x263430x1800", route[0].ShortChannelIdText);
        Assert.Equal(1u, route[0].FeeBaseMsat);
        Assert.Equal(20u, route[0].FeeProportionalMillionths);
        Assert.Equal(3, route[0].CltvExpiryDelta);
        Assert.Equal("039e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255", route[1].NodeId.ToHex());
        Assert.Equal("197637x395016x2314", route[1].ShortChannelIdText);
        Assert.Equal(2u, route[1].FeeBaseMsat);
        Assert.Equal(30u, route[1].FeeProportionalMillionths);
        Assert.Equal(4, route[1].CltvExpiryDelta);
    }

    [Theory]
    [InlineData(P2shFallback, 18, "3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX")]
    [InlineData(P2wpkhFallback, 0, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")]
    [InlineData(P2wshFallback, 0, "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3")]
    [InlineData(LegacyP2shFallback, 18, "3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX")]
    [InlineData(LegacyP2wpkhFallback, 0, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")]
    [InlineData(LegacyP2wshFallback, 0, "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3")]
    public void Parse_MainnetFallback_ReadsTheAddress(string text, int version, string address)
    {
        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal(2_000_000_000, invoice.AmountMsat);
        Assert.Equal(ChocolateDescriptionHash, invoice.DescriptionHash);
        Assert.Null(invoice.Description);
        var fallback = Assert.Single(invoice.Fallbacks);
        Assert.Equal(version, fallback.Version);
        Assert.Equal(address, fallback.Address.ToString());
        Assert.Equal(address, BitcoinAddress.Create(address, Network.Main).ToString()); // the spec's address is itself valid
    }

    [Theory]
    [InlineData(PicoAmount)]
    [InlineData(LegacyPicoAmount)]
    public void Parse_PicoAmount_ReadsMillisatoshisThatAreNotWholeSatoshis(string text)
    {
        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        Assert.Equal(967_878_534, invoice.AmountMsat);
        Assert.False(invoice.IsAmountWholeSatoshis);
        Assert.Null(invoice.AmountSats);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1572468703), invoice.Timestamp);
        Assert.Equal("462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f", invoice.PaymentHash);
        Assert.Equal(
            "Blockstream Store: 88.85 USD for Blockstream Ledger Nano S x 1, \"Back In My Day\" Sticker x 2, \"I Got Lightning Working\" Sticker x 2 and 1 more items",
            invoice.Description);
        Assert.Equal(604_800, invoice.ExpirySeconds);
        Assert.Equal(TimeSpan.FromDays(7), invoice.Expiry);
        Assert.Equal(10, invoice.MinFinalCltvExpiry);
        Assert.Equal(PayeeNodeId, invoice.PayeePubKey.ToHex());
        var hop = Assert.Single(Assert.Single(invoice.RouteHints));
        Assert.Equal("03d06758583bb5154774a6eb221b1276c9e82d65bbaceca806d90e20c108f4b1c7", hop.NodeId.ToHex());
        Assert.Equal("589390x3312x1", hop.ShortChannelIdText);
        Assert.Equal(1000u, hop.FeeBaseMsat);
        Assert.Equal(2500u, hop.FeeProportionalMillionths);
        Assert.Equal(40, hop.CltvExpiryDelta);
    }

    [Theory]
    [InlineData(Features)]
    [InlineData(FeaturesUpperCase)]
    [InlineData(IgnoredFields)]
    public void Parse_CoffeeBeans_ReadsFeaturesAndIgnoresWhatMustBeIgnored(string text)
    {
        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal(2_500_000_000, invoice.AmountMsat);
        Assert.Equal(2_500_000, invoice.AmountSats);
        Assert.Equal("coffee beans", invoice.Description);
        Assert.Null(invoice.DescriptionHash);
        Assert.Equal(PaymentSecret, invoice.PaymentSecret);
        Assert.Equal([8, 14, 99], invoice.Features);
        Assert.True(invoice.HasFeature(99));
        Assert.False(invoice.HasFeature(100));
        Assert.Equal(3600, invoice.ExpirySeconds);
        // The ignored example carries n fields of 52 and 54 words, an f of version 19 and short or long p/h/s: all skipped.
        Assert.False(invoice.PayeeWasExplicit);
        Assert.Empty(invoice.Fallbacks);
        Assert.Equal(text.ToLowerInvariant(), invoice.Invoice);
    }

    [Fact]
    public void Parse_PaymentMetadata_ReadsTheMetadataAndItsFeature()
    {
        var invoice = Bolt11Invoice.Parse(PaymentMetadata, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal(1_000_000_000, invoice.AmountMsat);
        Assert.Equal("payment metadata inside", invoice.Description);
        Assert.Equal("01fafaf0", invoice.PaymentMetadata);
        Assert.Equal(PaymentSecret, invoice.PaymentSecret);
        Assert.Equal([8, 14, 48], invoice.Features);
    }

    // The earlier revision of the spec's examples: invoices without a payment secret, still to be read.
    [Theory]
    [InlineData(LegacyDonation, null, "Please consider supporting this project", null, 3600)]
    [InlineData(LegacyCoffee, 250_000_000L, "1 cup coffee", null, 60)]
    [InlineData(LegacyNonsense, 250_000_000L, "ナンセンス 1杯", null, 60)]
    [InlineData(LegacyHashed, 2_000_000_000L, null, ChocolateDescriptionHash, 3600)]
    [InlineData(LegacyMainnetP2pkhFallbackWithRoute, 2_000_000_000L, null, ChocolateDescriptionHash, 3600)]
    [InlineData(LegacyFeatures, 2_500_000_000L, "coffee beans", null, 3600)]
    [InlineData(LegacyFeaturesUpperCase, 2_500_000_000L, "coffee beans", null, 3600)]
    [InlineData(LegacyIgnoredFields, 2_500_000_000L, "coffee beans", null, 3600)]
    public void Parse_LegacyExample_ReadsItsFields(string text, long? amountMsat, string? description, string? descriptionHash, long expiry)
    {
        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        AssertSpecPayment(invoice);
        Assert.Equal(amountMsat, invoice.AmountMsat);
        Assert.Equal(description, invoice.Description);
        Assert.Equal(descriptionHash, invoice.DescriptionHash);
        Assert.Equal(expiry, invoice.ExpirySeconds);
    }

    [Fact]
    public void Parse_LegacyTestnetFallback_ReadsTheTestnetAddressWithoutASecret()
    {
        var invoice = Bolt11Invoice.Parse(LegacyTestnetP2pkhFallback, Network.TestNet);

        AssertSpecPayment(invoice);
        Assert.Null(invoice.PaymentSecret);
        Assert.Equal(2_000_000_000, invoice.AmountMsat);
        Assert.Equal(ChocolateDescriptionHash, invoice.DescriptionHash);
        Assert.Equal("mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP", Assert.Single(invoice.Fallbacks).Address.ToString());
    }

    // ---------------------------------------------------------------- the spec's invalid examples

    [Theory]
    [InlineData(UnknownRequiredFeature100, "feature bit 100")]
    [InlineData(LegacyUnknownRequiredFeature100, "feature bit 100")]
    [InlineData(InvalidChecksum, "bech32")]
    [InlineData(NoSeparator, "separator")]
    [InlineData(MixedCase, "mixes upper and lower case")]
    [InlineData(SignatureNotRecoverable, "signature")]
    [InlineData(LegacySignatureNotRecoverable, "signature")]
    [InlineData(TooShort, "too short")]
    [InlineData(InvalidMultiplier, "multiplier")]
    [InlineData(LegacyInvalidMultiplier, "multiplier")]
    [InlineData(SubMillisatoshi, "sub-millisatoshi")]
    [InlineData(LegacySubMillisatoshi, "sub-millisatoshi")]
    public void Parse_InvalidSpecExample_IsRefusedForTheRightReason(string text, string reason)
    {
        var error = AssertRefused(text, Network.Main);

        Assert.Contains(reason, error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Parse_SignatureNotRecoverable_HasAValidChecksumSoTheSignatureIsWhatFails()
    {
        // Same fields as the coffee example; only the signature (and so the checksum) differ.
        var words = new Bech32Encoder(Encoding.ASCII.GetBytes("lnbc2500u")) { StrictLength = false }
            .DecodeDataRaw(SignatureNotRecoverable, out var encoding);

        Assert.Equal(Bech32EncodingType.BECH32, encoding);
        Assert.True(words.Length > 104);
        Assert.Contains("not recoverable", AssertRefused(SignatureNotRecoverable, Network.Main), StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- network and prefix

    [Theory]
    [InlineData(Coffee, "testnet")]
    [InlineData(Coffee, "signet")]
    [InlineData(Coffee, "regtest")]
    [InlineData(TestnetP2pkhFallback, "main")]
    [InlineData(TestnetP2pkhFallback, "signet")]
    [InlineData(TestnetP2pkhFallback, "regtest")]
    public void Parse_InvoiceForAnotherNetwork_IsRefused(string text, string network)
    {
        var error = AssertRefused(text, NetworkNamed(network));

        Assert.Contains("another network", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lntbs", "signet")]
    [InlineData("lnbcrt", "regtest")]
    [InlineData("lntb", "testnet4")]
    [InlineData("lnbc", "main")]
    public void Parse_WrittenForEachNetwork_ReadsThePrefix(string prefix, string network)
    {
        var text = W.Write(prefix + "10u", Timestamp, [W.PaymentHashField(), W.SecretField(), W.DescriptionField("sub")]);

        var invoice = Bolt11Invoice.Parse(text, NetworkNamed(network));

        Assert.Equal(prefix, invoice.Prefix);
        Assert.Equal(prefix, Bolt11Invoice.PrefixFor(NetworkNamed(network)));
        Assert.Equal(1_000_000, invoice.AmountMsat);
        Assert.Equal(PaymentHash, invoice.PaymentHash);
        Assert.Equal("sub", invoice.Description);
        Assert.Equal(PayeeNodeId, invoice.PayeePubKey.ToHex());
        Assert.Equal(SpecTime, invoice.Timestamp);
    }

    [Fact]
    public void Parse_UnknownPrefix_IsRefused()
    {
        var text = W.Write("lnltc10u", Timestamp, [W.PaymentHashField(), W.DescriptionField("x")]);

        Assert.Contains("Unknown invoice prefix", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_WithLightningScheme_ReadsTheInvoice()
    {
        var invoice = Bolt11Invoice.Parse("lightning:" + Coffee, Network.Main);

        Assert.Equal(250_000_000, invoice.AmountMsat);
        Assert.Equal(PaymentHash, invoice.PaymentHash);
        Assert.Equal(Coffee, invoice.Invoice);
    }

    // ---------------------------------------------------------------- amounts

    [Theory]
    [InlineData("lnbc10p", 1L, null)]
    [InlineData("lnbc1n", 100L, null)]
    [InlineData("lnbc10n", 1_000L, 1L)]
    [InlineData("lnbc1u", 100_000L, 100L)]
    [InlineData("lnbc1m", 100_000_000L, 100_000L)]
    [InlineData("lnbc1", 100_000_000_000L, 100_000_000L)]
    [InlineData("lnbc21000000", 2_100_000_000_000_000_000L, 2_100_000_000_000_000L)]
    [InlineData("lnbc21000000000000000000p", 2_100_000_000_000_000_000L, 2_100_000_000_000_000L)]
    public void Parse_Amount_IsExactMillisatoshis(string hrp, long msat, long? sats)
    {
        var text = W.Write(hrp, Timestamp, [W.PaymentHashField(), W.DescriptionField("a")]);

        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        Assert.Equal(msat, invoice.AmountMsat);
        Assert.Equal(sats, invoice.AmountSats);
        Assert.Equal(sats is not null, invoice.IsAmountWholeSatoshis);
        Assert.Equal(PaymentHash, invoice.PaymentHash);
        Assert.Equal("a", invoice.Description);
    }

    [Theory]
    [InlineData("lnbc21000001", "21 million")]
    [InlineData("lnbc21000000000000000010p", "21 million")]
    [InlineData("lnbc99999999999999999999m", "21 million")]
    [InlineData("lnbc99999999999999999999999999m", "too large")]
    [InlineData("lnbc0", "leading zero")]
    [InlineData("lnbc025u", "leading zero")]
    [InlineData("lnbc15p", "sub-millisatoshi")]
    [InlineData("lnbc25mm", "multiplier")]
    [InlineData("lnbc2u5", "multiplier")]
    public void Parse_BadAmount_IsRefused(string hrp, string reason)
    {
        var text = W.Write(hrp, Timestamp, [W.PaymentHashField(), W.DescriptionField("a")]);

        Assert.Contains(reason, AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- payee node id (field n)

    [Fact]
    public void Parse_WithMatchingNField_UsesItAsThePayee()
    {
        var text = W.Write("lnbc2500u", Timestamp,
        [
            W.PaymentHashField(), W.SecretField(), W.DescriptionField("1 cup coffee"),
            (W.N, W.ToWords(W.SpecKey.PubKey.ToBytes())),
        ]);

        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        Assert.True(invoice.PayeeWasExplicit);
        Assert.Equal(PayeeNodeId, invoice.PayeePubKey.ToHex());
        Assert.Equal(250_000_000, invoice.AmountMsat);
        Assert.Equal(PaymentHash, invoice.PaymentHash);
        Assert.Equal("1 cup coffee", invoice.Description);
    }

    [Fact]
    public void Parse_WithNFieldOfAnotherNode_IsRefused()
    {
        var other = new Key(Convert.FromHexString("0101010101010101010101010101010101010101010101010101010101010101"));
        var text = W.Write("lnbc2500u", Timestamp,
        [
            W.PaymentHashField(), W.DescriptionField("1 cup coffee"), (W.N, W.ToWords(other.PubKey.ToBytes())),
        ]);

        Assert.Contains("does not match the payee", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SignedByAnotherKey_RecoversThatKey()
    {
        var other = new Key(Convert.FromHexString("0101010101010101010101010101010101010101010101010101010101010101"));
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), W.DescriptionField("x")], other);

        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        Assert.Equal(other.PubKey, invoice.PayeePubKey);
        Assert.NotEqual(PayeeNodeId, invoice.PayeePubKey.ToHex());
    }

    // ---------------------------------------------------------------- mandatory and malformed fields

    [Fact]
    public void Parse_WithoutPaymentHash_IsRefused()
    {
        var text = W.Write("lnbc1m", Timestamp, [W.SecretField(), W.DescriptionField("x")]);

        Assert.Contains("no payment hash", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_WithPaymentHashOfTheWrongLength_SkipsItAndIsRefused()
    {
        var text = W.Write("lnbc1m", Timestamp, [(W.P, new byte[51]), W.DescriptionField("x")]);

        Assert.Contains("no payment hash", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_WithoutDescriptionOrHash_IsRefused()
    {
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), W.SecretField()]);

        Assert.Contains("neither a description", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DescriptionNotUtf8_IsRefused()
    {
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), (W.D, W.ToWords([0xff, 0xfe, 0x41]))]);

        Assert.Contains("UTF-8", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RepeatedPaymentHash_UsesTheFirst()
    {
        var second = W.ToWords(Enumerable.Repeat((byte)0xaa, 32).ToArray());
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), (W.P, second), W.DescriptionField("x")]);

        Assert.Equal(PaymentHash, Bolt11Invoice.Parse(text, Network.Main).PaymentHash);
    }

    [Fact]
    public void Parse_MalformedRouteHintAndUnknownFallback_AreSkipped()
    {
        var text = W.Write("lnbc1m", Timestamp,
        [
            W.PaymentHashField(), W.DescriptionField("x"),
            (W.R, W.ToWords(new byte[50])), // not a whole hop
            (W.F, [19, .. W.ToWords(new byte[20])]), // future version
            (W.F, [17, .. W.ToWords(new byte[19])]), // P2PKH of the wrong length
            (W.C, W.UInt(144)),
        ]);

        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        Assert.Empty(invoice.RouteHints);
        Assert.Empty(invoice.Fallbacks);
        Assert.Equal(144, invoice.MinFinalCltvExpiry);
        Assert.Equal(PaymentHash, invoice.PaymentHash);
    }

    [Fact]
    public void Parse_TaprootFallback_ReadsTheAddress()
    {
        var taproot = new Key(Convert.FromHexString("0202020202020202020202020202020202020202020202020202020202020202"))
            .PubKey.GetAddress(ScriptPubKeyType.TaprootBIP86, Network.Main);
        var program = taproot.ScriptPubKey.ToBytes()[2..];
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), W.DescriptionField("x"), (W.F, [1, .. W.ToWords(program)])]);

        var fallback = Assert.Single(Bolt11Invoice.Parse(text, Network.Main).Fallbacks);

        Assert.Equal(1, fallback.Version);
        Assert.Equal(taproot.ToString(), fallback.Address.ToString());
    }

    [Fact]
    public void Parse_HugeExpiry_SaturatesExpiresAt()
    {
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), W.DescriptionField("x"), (W.X, W.UInt(long.MaxValue))]);

        var invoice = Bolt11Invoice.Parse(text, Network.Main);

        Assert.Equal(long.MaxValue, invoice.ExpirySeconds);
        Assert.Equal(DateTimeOffset.MaxValue, invoice.ExpiresAt);
        Assert.Equal(TimeSpan.MaxValue, invoice.Expiry);
        Assert.False(invoice.IsExpired(DateTimeOffset.UtcNow));
    }

    [Fact]
    public void Parse_ExpiryBeyondALong_IsRefused()
    {
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), W.DescriptionField("x"), (W.X, Enumerable.Repeat((byte)31, 13).ToArray())]);

        Assert.Contains("expiry", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FieldLongerThanTheData_IsRefused()
    {
        // A d field that claims 40 words where only 3 follow before the signature.
        var words = new List<byte>(W.UInt(Timestamp)) { W.D, 1, 8, 1, 2, 3 };
        words.AddRange(new byte[104]);
        var text = W.Encode("lnbc", [.. words]);

        Assert.Contains("longer than the invoice", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Bech32mChecksum_IsRefused()
    {
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), W.DescriptionField("x")], encoding: Bech32EncodingType.BECH32M);

        Assert.Contains("bech32m", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LongerThanTheLimit_IsRefused()
    {
        var text = W.Write("lnbc1m", Timestamp, [W.PaymentHashField(), .. Enumerable.Repeat(W.DescriptionField(new string('a', 600)), 8)]);

        Assert.True(text.Length > Bolt11Invoice.MaxLength);
        Assert.Contains("longer than", AssertRefused(text, Network.Main), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("lnbc1")]
    [InlineData("1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq")]
    [InlineData("lnbc 1pvjluez")]
    [InlineData("lnbcé1pvjluez")]
    [InlineData("lightning:")]
    public void Parse_Garbage_IsRefused(string text)
    {
        Assert.False(string.IsNullOrEmpty(AssertRefused(text, Network.Main)));
    }

    [Fact]
    public void TryParse_Null_IsRefusedWithoutThrowing()
    {
        Assert.False(Bolt11Invoice.TryParse(null, Network.Main, out var result, out var error));
        Assert.Null(result);
        Assert.Equal("The invoice is empty.", error);
    }

    // ---------------------------------------------------------------- properties

    private static readonly string[] ValidSpecInvoices =
    [
        Donation, Coffee, Nonsense, Hashed, MainnetP2pkhFallbackWithRoute, P2shFallback, P2wpkhFallback, P2wshFallback,
        PicoAmount, Features, FeaturesUpperCase, IgnoredFields, PaymentMetadata,
        LegacyDonation, LegacyCoffee, LegacyNonsense, LegacyHashed, LegacyMainnetP2pkhFallbackWithRoute, LegacyP2shFallback,
        LegacyP2wpkhFallback, LegacyP2wshFallback, LegacyPicoAmount, LegacyFeatures, LegacyFeaturesUpperCase, LegacyIgnoredFields,
    ];

    private const string Bech32Alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l1";

    [Fact]
    public void Parse_AnyValidSpecInvoiceWithOneCharacterChanged_IsRefused()
    {
        foreach (var text in ValidSpecInvoices)
            Assert.True(Bolt11Invoice.TryParse(text, Network.Main, out _, out _), text); // the baseline parses

        Gen.Select(Gen.Int[0, ValidSpecInvoices.Length - 1], Gen.Int[0, int.MaxValue], Gen.Char[Bech32Alphabet])
            .Select((index, position, replacement) =>
            {
                var text = ValidSpecInvoices[index];
                var at = position % text.Length;
                var upper = char.IsUpper(text[0]);
                var c = upper ? char.ToUpperInvariant(replacement) : replacement;
                return (Text: text, Mutated: string.Concat(text.AsSpan(0, at), c.ToString(), text.AsSpan(at + 1)));
            })
            .Where(t => t.Mutated != t.Text)
            .Sample(t =>
            {
                Assert.False(Bolt11Invoice.TryParse(t.Mutated, Network.Main, out var result, out var error), t.Mutated);
                Assert.Null(result);
                Assert.False(string.IsNullOrEmpty(error));
                Assert.Throws<FormatException>(() => Bolt11Invoice.Parse(t.Mutated, Network.Main));
            }, iter: 5_000);
    }

    [Fact]
    public void Parse_RandomStrings_OnlyEverThrowsFormatException()
    {
        var anyText = Gen.String[Gen.Char, 0, 400];
        var bech32Like = Gen.Select(
            Gen.Int[0, 3].Select(i => new[] { "lnbc", "lnbc2500u", "LNBC", "lntb10p" }[i]),
            Gen.String[Gen.Char[Bech32Alphabet], 0, 400]).Select((hrp, rest) => hrp + "1" + rest);
        Gen.OneOf(anyText, bech32Like).Sample(AssertRefusedOrParsedOnlyWithFormatException, iter: 5_000);
    }

    [Fact]
    public void Parse_AnyAmountInAnyExactUnit_ReadsBackTheSameMillisatoshis()
    {
        Gen.Long[1, 21_000_000L * 100_000_000_000L].Sample(msat =>
        {
            // Every multiplier that writes this amount exactly, as a writer may choose any of them.
            var hrps = new List<string> { $"lnbc{msat}0p" };
            if (msat % 100 == 0) hrps.Add($"lnbc{msat / 100}n");
            if (msat % 100_000 == 0) hrps.Add($"lnbc{msat / 100_000}u");
            if (msat % 100_000_000 == 0) hrps.Add($"lnbc{msat / 100_000_000}m");
            if (msat % 100_000_000_000 == 0) hrps.Add($"lnbc{msat / 100_000_000_000}");
            foreach (var hrp in hrps)
            {
                var invoice = Bolt11Invoice.Parse(W.Write(hrp, Timestamp, [W.PaymentHashField(), W.DescriptionField("a")]), Network.Main);
                Assert.Equal(msat, invoice.AmountMsat);
                Assert.Equal(msat % 1000 == 0 ? msat / 1000 : null, invoice.AmountSats);
            }
        }, iter: 300);
    }

    [Fact]
    public void Parse_SpecInvoiceWithARandomSignature_IsRefusedOrNamesAnotherPayee()
    {
        var encoder = new Bech32Encoder(Encoding.ASCII.GetBytes("lnbc2500u")) { StrictLength = false };
        var words = encoder.DecodeDataRaw(Coffee, out _);
        Gen.Byte[0, 31].Array[104].Select(signature => W.Encode("lnbc2500u", [.. words[..^104], .. signature])).Sample(text =>
        {
            AssertRefusedOrParsedOnlyWithFormatException(text);
            if (Bolt11Invoice.TryParse(text, Network.Main, out var invoice, out _))
                Assert.NotEqual(PayeeNodeId, invoice.PayeePubKey.ToHex()); // a signature commits to a key; a random one to a random key
        }, iter: 1_000);
    }

    [Fact]
    public void Parse_RandomDataWithAValidChecksum_OnlyEverThrowsFormatException()
    {
        // Random words behind a correct checksum reach the field parser and the signature check.
        Gen.Select(
                Gen.Int[0, 4].Select(i => new[] { "lnbc", "lnbc2500u", "lntb", "lnbc10p", "lnbc1x" }[i]),
                Gen.Byte[0, 31].Array[0, 700])
            .Select((hrp, words) => W.Encode(hrp, words))
            .Sample(AssertRefusedOrParsedOnlyWithFormatException, iter: 3_000);
    }

    [Fact]
    public void Parse_RandomTaggedFieldsSignedCorrectly_OnlyEverThrowsFormatException()
    {
        // Well-framed random fields with a good signature: exercises every field reader on odd lengths and values.
        var field = Gen.Select(Gen.Int[0, 31], Gen.Byte[0, 31].Array[0, 120]).Select((type, words) => (type, words));
        Gen.Select(field.Array[0, 12], Gen.Bool)
            .Select((fields, withMandatory) => W.Write(
                "lnbc1m",
                Timestamp,
                withMandatory ? fields.Prepend(W.DescriptionField("x")).Prepend(W.PaymentHashField()) : fields))
            .Sample(text =>
            {
                AssertRefusedOrParsedOnlyWithFormatException(text);
                if (Bolt11Invoice.TryParse(text, Network.Main, out var invoice, out _))
                {
                    Assert.Equal(PayeeNodeId, invoice.PayeePubKey.ToHex()); // recovered, or an n field that verified
                    Assert.Equal(100_000_000, invoice.AmountMsat);
                }
            }, iter: 1_000);
    }

    // ---------------------------------------------------------------- helpers

    private static void AssertSpecPayment(Bolt11Invoice invoice)
    {
        Assert.Equal(PaymentHash, invoice.PaymentHash);
        Assert.Equal(PayeeNodeId, invoice.PayeePubKey.ToHex());
        Assert.Equal(SpecTime, invoice.Timestamp);
        Assert.Equal(Timestamp, invoice.Timestamp.ToUnixTimeSeconds());
    }

    private static string AssertRefused(string text, Network network)
    {
        Assert.False(Bolt11Invoice.TryParse(text, network, out var result, out var error));
        Assert.Null(result);
        Assert.NotNull(error);
        var thrown = Assert.Throws<FormatException>(() => Bolt11Invoice.Parse(text, network));
        Assert.Equal(error, thrown.Message);
        return error;
    }

    private static void AssertRefusedOrParsedOnlyWithFormatException(string text)
    {
        var parsed = Bolt11Invoice.TryParse(text, Network.Main, out var result, out var error);
        Assert.Equal(parsed, result is not null);
        Assert.Equal(parsed, error is null);
        try
        {
            Bolt11Invoice.Parse(text, Network.Main);
            Assert.True(parsed);
        }
        catch (FormatException)
        {
            Assert.False(parsed);
        }
    }

    private static Network NetworkNamed(string name) => name switch
    {
        "main" => Network.Main,
        "testnet" => Network.TestNet,
        "testnet4" => NBitcoin.Bitcoin.Instance.Testnet4,
        "signet" => NBitcoin.Bitcoin.Instance.Signet,
        "regtest" => Network.RegTest,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
