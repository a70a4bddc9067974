using NBitcoin;
using NBitcoin.BIP322;

namespace Satsub.Transparency;

/// <summary>A signature of a report's message: checked against <see cref="Address"/> with the named scheme.</summary>
public sealed record ReportSignature(string Address, string Scheme, string Message, string Signature);

/// <summary>
/// Signs report messages with the owner's key: legacy message signing (the <c>Bitcoin Signed Message</c> scheme of
/// Bitcoin Core's <c>signmessage</c>/<c>verifymessage</c>, Electrum and Sparrow) for a P2PKH address, BIP-322 "simple"
/// for P2WPKH, P2SH-P2WPKH and P2TR addresses of the same key.
/// </summary>
public sealed class ReportSigner
{
    public const string LegacyScheme = "legacy";
    public const string Bip322Scheme = "bip322-simple";

    private readonly Key key;

    private ReportSigner(Key key, BitcoinAddress address)
    {
        this.key = key;
        Address = address;
    }

    public BitcoinAddress Address { get; }

    public string Scheme => Address is BitcoinPubKeyAddress ? LegacyScheme : Bip322Scheme;

    /// <summary>The signer the options describe, or null without a key. Throws <see cref="FormatException"/> (never quoting the key) when they are wrong.</summary>
    public static ReportSigner? Create(TransparencyOptions options, Network network)
    {
        if (string.IsNullOrWhiteSpace(options.SigningKeyWif)) return null;
        BitcoinSecret secret;
        try
        {
            secret = new BitcoinSecret(options.SigningKeyWif.Trim(), network);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            throw new FormatException($"Transparency:SigningKeyWif is not a WIF private key for {network.Name}.");
        }
        if (string.IsNullOrWhiteSpace(options.SigningAddress))
            return new ReportSigner(secret.PrivateKey, secret.PubKey.GetAddress(ScriptPubKeyType.Legacy, network));

        BitcoinAddress address;
        try
        {
            address = BitcoinAddress.Create(options.SigningAddress.Trim(), network);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            throw new FormatException($"Transparency:SigningAddress '{options.SigningAddress}' is not a {network.Name} address.");
        }
        // Legacy signatures only identify a P2PKH address; other types are signed with BIP-322, which needs the key to spend the address.
        ScriptPubKeyType[] types = [ScriptPubKeyType.Legacy, ScriptPubKeyType.Segwit, ScriptPubKeyType.SegwitP2SH, ScriptPubKeyType.TaprootBIP86];
        if (!types.Any(t => secret.PubKey.GetAddress(t, network) == address))
            throw new FormatException($"Transparency:SigningAddress {address} does not belong to Transparency:SigningKeyWif " +
                "(supported: its P2PKH, P2WPKH, P2SH-P2WPKH or BIP-86 P2TR address).");
        return new ReportSigner(secret.PrivateKey, address);
    }

    public ReportSignature Sign(string message)
    {
        // NBitcoin signs both through its BIP-322 API: for a P2PKH address the "Legacy" type is the classic 65-byte compact
        // signature over the "Bitcoin Signed Message:\n" hash, which BIP-322 keeps as the legacy format.
        var type = Address is BitcoinPubKeyAddress ? SignatureType.Legacy : SignatureType.Simple;
        var signature = key.SignBIP322(Address, message, type).ToBase64();
        return new ReportSignature(Address.ToString(), Scheme, message, signature);
    }

    /// <summary>Checks a signature the way a wallet does, from the address, the message and the signature alone.</summary>
    public static bool Verify(ReportSignature s, Network network)
    {
        try
        {
            var address = BitcoinAddress.Create(s.Address, network);
            var signature = BIP322Signature.Parse(s.Signature, network);
            return s.Scheme switch
            {
                LegacyScheme => address is BitcoinPubKeyAddress && signature is BIP322Signature.Legacy && address.VerifyBIP322(s.Message, signature),
                Bip322Scheme => address is not BitcoinPubKeyAddress && signature is BIP322Signature.Simple && address.VerifyBIP322(s.Message, signature),
                _ => false,
            };
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
