using System.Text;
using Microsoft.Extensions.Options;
using NBitcoin;
using NBitcoin.Crypto;
using Satsub.Bitcoin;
using Satsub.Transparency;

namespace Satsub.Tests.Transparency;

public sealed class ReportSignerTests
{
    private static readonly Network Main = Network.Main;

    /// <summary>A fixed test key (never a real one): the private key 0x01…01.</summary>
    internal static readonly Key TestKey = new(Enumerable.Repeat((byte)1, 32).ToArray());

    internal static string Wif => TestKey.GetWif(Main).ToString();

    private const string Csv = ReportCsv.Header + "\n" +
        "sale,2026-03-10T12:00:00.000000Z,01958a3c-0000-7000-8000-000000000001,basic,10000,5000,5000,0,Affiliate 1A2B3C,,\n";

    private static ReportSigner Signer(string? address = null) =>
        ReportSigner.Create(new TransparencyOptions { SigningKeyWif = Wif, SigningAddress = address }, Main)!;

    private static string Message(string csv) => ReportCsv.SignedMessage("2026-03", ReportCsv.Sha256Hex(csv));

    [Fact]
    public void LegacySignature_VerifiesWithNBitcoin_AndAChangedReportDoesNot()
    {
        var signer = Signer();
        Assert.IsType<BitcoinPubKeyAddress>(signer.Address);
        var signature = signer.Sign(Message(Csv));

        Assert.Equal(ReportSigner.LegacyScheme, signature.Scheme);
        Assert.Equal(TestKey.PubKey.GetAddress(ScriptPubKeyType.Legacy, Main).ToString(), signature.Address);
        Assert.True(ReportSigner.Verify(signature, Main));
        Assert.True(BitcoinAddress.Create(signature.Address, Main).VerifyBIP322(signature.Message, signature.Signature));

        // One satoshi moved from the affiliate to the owner: another digest, so another message, and the signature fails.
        var changed = Csv.Replace(",5000,5000,", ",5001,4999,", StringComparison.Ordinal);
        Assert.NotEqual(ReportCsv.Sha256Hex(Csv), ReportCsv.Sha256Hex(changed));
        Assert.False(ReportSigner.Verify(signature with { Message = Message(changed) }, Main));
        // The right message with another key's address fails too.
        var other = new Key().PubKey.GetAddress(ScriptPubKeyType.Legacy, Main).ToString();
        Assert.False(ReportSigner.Verify(signature with { Address = other }, Main));
    }

    /// <summary>
    /// The legacy signature is exactly what Bitcoin Core's <c>verifymessage</c>, Electrum and Sparrow check: a 65-byte
    /// compact signature over double-SHA-256 of varint-prefixed "Bitcoin Signed Message:\n" and the message, from which the
    /// P2PKH address's public key is recovered. Checked here from first principles, not through the library's verifier.
    /// </summary>
    [Fact]
    public void LegacySignature_IsTheClassicSignedMessageFormat()
    {
        var signature = Signer().Sign(Message(Csv));
        var bytes = Convert.FromBase64String(signature.Signature);
        Assert.Equal(65, bytes.Length);
        Assert.InRange(bytes[0], 27, 34);

        using var buffer = new MemoryStream();
        void WriteWithLength(byte[] data)
        {
            buffer.WriteByte((byte)data.Length); // both strings are shorter than 253 bytes
            buffer.Write(data);
        }
        WriteWithLength(Encoding.UTF8.GetBytes("Bitcoin Signed Message:\n"));
        WriteWithLength(Encoding.UTF8.GetBytes(signature.Message));
        var hash = Hashes.DoubleSHA256(buffer.ToArray());

        var recovery = (bytes[0] - 27) & 3;
        var compressed = bytes[0] >= 31;
        var recovered = PubKey.RecoverCompact(hash, new CompactSignature(recovery, bytes[1..]));
        Assert.True(compressed);
        Assert.Equal(TestKey.PubKey, recovered);
        Assert.Equal(signature.Address, recovered.GetAddress(ScriptPubKeyType.Legacy, Main).ToString());
    }

    [Theory]
    [InlineData(ScriptPubKeyType.Segwit)]
    [InlineData(ScriptPubKeyType.SegwitP2SH)]
    [InlineData(ScriptPubKeyType.TaprootBIP86)]
    public void Bip322Signature_ForOtherAddressTypes_VerifiesAndAChangedReportDoesNot(ScriptPubKeyType type)
    {
        var address = TestKey.PubKey.GetAddress(type, Main).ToString();
        var signer = Signer(address);
        var signature = signer.Sign(Message(Csv));

        Assert.Equal(ReportSigner.Bip322Scheme, signature.Scheme);
        Assert.Equal(address, signature.Address);
        Assert.True(ReportSigner.Verify(signature, Main));
        var changed = Csv.Replace("basic", "premium", StringComparison.Ordinal);
        Assert.False(ReportSigner.Verify(signature with { Message = Message(changed) }, Main));
    }

    [Fact]
    public void Options_RefuseAnAddressOfAnotherKey_AndABadKey_WithoutQuotingTheKey()
    {
        var validator = new TransparencyOptionsValidator(Options.Create(new BitcoinOptions { Network = "mainnet" }));
        Assert.True(validator.Validate(null, new TransparencyOptions()).Succeeded);
        Assert.True(validator.Validate(null, new TransparencyOptions { SigningKeyWif = Wif }).Succeeded);

        var other = new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, Main).ToString();
        var wrongAddress = validator.Validate(null, new TransparencyOptions { SigningKeyWif = Wif, SigningAddress = other });
        Assert.True(wrongAddress.Failed);
        Assert.Contains("does not belong", wrongAddress.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(Wif, wrongAddress.FailureMessage, StringComparison.Ordinal);

        var broken = Wif[..^3] + "abc";
        var badKey = validator.Validate(null, new TransparencyOptions { SigningKeyWif = broken });
        Assert.True(badKey.Failed);
        Assert.Contains("Transparency:SigningKeyWif", badKey.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(broken, badKey.FailureMessage, StringComparison.Ordinal);

        // A testnet key on mainnet is refused.
        var testnet = validator.Validate(null, new TransparencyOptions { SigningKeyWif = TestKey.GetWif(Network.TestNet).ToString() });
        Assert.True(testnet.Failed);
        Assert.False(validator.Validate(null, new TransparencyOptions { SigningAddress = other }).Succeeded);
    }

    [Fact]
    public void Csv_RoundTrips_AndTheDigestIsOfItsExactBytes()
    {
        var rows = ReportCsv.Read(Csv);
        Assert.Single(rows);
        Assert.Equal(Csv, ReportCsv.Write(rows));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Csv))), ReportCsv.Sha256Hex(Csv));
        Assert.Throws<FormatException>(() => ReportCsv.Read(Csv.Replace("\n", "\r\n", StringComparison.Ordinal)));
        Assert.Throws<InvalidOperationException>(() => ReportCsv.Write([rows[0] with { Plan = "a,b" }]));
    }

    [Theory]
    [InlineData("2026-01", true)]
    [InlineData("2009-01", true)]
    [InlineData("2008-12", false)]
    [InlineData("2026-13", false)]
    [InlineData("2026-1", false)]
    [InlineData("202601", false)]
    [InlineData("2026-01-01", false)]
    [InlineData("", false)]
    public void Month_IsStrictlyYearDashMonth(string text, bool valid) => Assert.Equal(valid, MonthlyReports.TryParseMonth(text, out _));
}
