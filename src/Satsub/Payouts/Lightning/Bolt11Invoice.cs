using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NBitcoin;
using NBitcoin.Crypto;
using NBitcoin.DataEncoders;

namespace Satsub.Payouts.Lightning;

/// <summary>
/// A decoded and verified BOLT #11 Lightning invoice
/// (https://github.com/lightning/bolts/blob/master/11-payment-encoding.md).
/// An instance only exists for an invoice whose checksum, signature, prefix and mandatory fields are valid.
/// </summary>
public sealed class Bolt11Invoice
{
    /// <summary>Longest invoice we read: the capacity of a QR code in alphanumeric mode, as LND uses.</summary>
    public const int MaxLength = 7089;

    public const long DefaultExpirySeconds = 3600;
    public const long DefaultMinFinalCltvExpiry = 18;

    private const long MsatPerBitcoin = 100_000_000_000;

    // 21 million bitcoin: anything above is not an amount, it is an attack or a bug.
    private const long MaxAmountMsat = 21_000_000 * MsatPerBitcoin;

    private const int TimestampWords = 7;
    private const int SignatureWords = 104; // 520 bits: 64-byte compact signature and a recovery id byte
    private const int HashWords = 52; // 256 bits, padded to 260
    private const int PubKeyWords = 53; // 264 bits, padded to 265
    private const int RouteHopBytes = 51; // pubkey 33, short_channel_id 8, fee base 4, fee rate 4, cltv delta 2

    private const string UriScheme = "lightning:";
    private const string Bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    // BOLT #9 features allowed in invoices ("9" context), even bit. Any other even bit is a
    // requirement we do not understand, and an invoice requiring it must be refused.
    private static readonly HashSet<int> KnownRequiredFeatures =
    [
        8, // var_onion_optin
        14, // payment_secret
        16, // basic_mpp
        24, // option_route_blinding
        48, // option_payment_metadata
    ];

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private Bolt11Invoice(string invoice, string humanReadablePart, string prefix, Network network)
    {
        Invoice = invoice;
        HumanReadablePart = humanReadablePart;
        Prefix = prefix;
        Network = network;
    }

    /// <summary>The invoice string, in lower case and without any "lightning:" scheme.</summary>
    public string Invoice { get; }

    /// <summary>The bech32 human-readable part: prefix and amount, e.g. "lnbc2500u".</summary>
    public string HumanReadablePart { get; }

    /// <summary>"lnbc" (mainnet), "lntb" (testnet), "lntbs" (signet) or "lnbcrt" (regtest).</summary>
    public string Prefix { get; }

    /// <summary>The network the invoice was checked against.</summary>
    public Network Network { get; }

    /// <summary>The amount requested in millisatoshis, or null when the payer chooses (a donation invoice).</summary>
    public long? AmountMsat { get; private set; }

    /// <summary>True when there is an amount and it is a whole number of satoshis.</summary>
    public bool IsAmountWholeSatoshis => AmountMsat is { } msat && msat % 1000 == 0;

    /// <summary>The amount in satoshis when it is exact; null when there is no amount or it has a sub-satoshi part.</summary>
    public long? AmountSats => IsAmountWholeSatoshis ? AmountMsat / 1000 : null;

    public DateTimeOffset Timestamp { get; private set; }

    /// <summary>SHA-256 payment hash, 64 lower-case hex characters.</summary>
    public string PaymentHash { get; private set; } = "";

    /// <summary>The payment secret (field s), 64 lower-case hex characters, when present.</summary>
    public string? PaymentSecret { get; private set; }

    /// <summary>The description (field d), when present. Written by the payee: untrusted text, encode it before display.</summary>
    public string? Description { get; private set; }

    /// <summary>SHA-256 of the description (field h), 64 lower-case hex characters, when present.</summary>
    public string? DescriptionHash { get; private set; }

    /// <summary>Payment metadata (field m) to hand back in the onion, lower-case hex, when present.</summary>
    public string? PaymentMetadata { get; private set; }

    /// <summary>Seconds after <see cref="Timestamp"/> the invoice stays payable (field x, 3600 when absent).</summary>
    public long ExpirySeconds { get; private set; } = DefaultExpirySeconds;

    /// <summary><see cref="ExpirySeconds"/> as a time span (saturates at <see cref="TimeSpan.MaxValue"/>).</summary>
    public TimeSpan Expiry => ExpirySeconds >= (long)TimeSpan.MaxValue.TotalSeconds
        ? TimeSpan.MaxValue
        : TimeSpan.FromSeconds(ExpirySeconds);

    /// <summary>When the invoice stops being payable (saturates at <see cref="DateTimeOffset.MaxValue"/>).</summary>
    public DateTimeOffset ExpiresAt => ExpirySeconds >= (DateTimeOffset.MaxValue - Timestamp).TotalSeconds
        ? DateTimeOffset.MaxValue
        : Timestamp.AddSeconds(ExpirySeconds);

    /// <summary>The min_final_cltv_expiry_delta for the last hop (field c, 18 when absent).</summary>
    public long MinFinalCltvExpiry { get; private set; } = DefaultMinFinalCltvExpiry;

    /// <summary>The payee node id: field n when given (and the signature checked against it), else recovered from the signature.</summary>
    public PubKey PayeePubKey { get; private set; } = null!;

    /// <summary>True when the payee came from an n field rather than from signature recovery.</summary>
    public bool PayeeWasExplicit { get; private set; }

    /// <summary>Feature bits (field 9), ascending.</summary>
    public IReadOnlyList<int> Features { get; private set; } = [];

    /// <summary>On-chain fallback addresses (field f) in the writer's order of preference; unknown versions are skipped.</summary>
    public IReadOnlyList<Bolt11Fallback> Fallbacks { get; private set; } = [];

    /// <summary>Private route hints (field r): each is a route of hops towards the payee.</summary>
    public IReadOnlyList<IReadOnlyList<Bolt11RouteHop>> RouteHints { get; private set; } = [];

    public bool HasFeature(int bit) => Features.Contains(bit);

    /// <summary>True once <paramref name="now"/> has reached <see cref="ExpiresAt"/>; pay only before.</summary>
    public bool IsExpired(DateTimeOffset now) => now >= ExpiresAt;

    /// <summary>BOLT #11 asks the reader to check a hashed description against the text it was given.</summary>
    public bool DescriptionHashMatches(string description)
    {
        ArgumentNullException.ThrowIfNull(description);
        return DescriptionHash is not null
            && Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(description))) == DescriptionHash;
    }

    public override string ToString() => Invoice;

    /// <summary>The invoice prefix BOLT #11 uses for a bitcoin network, or null for a network it has none for.</summary>
    public static string? PrefixFor(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (network.NetworkSet != NBitcoin.Bitcoin.Instance)
            return null;
        if (network.ChainName == ChainName.Mainnet)
            return "lnbc";
        if (network.ChainName == ChainName.Regtest)
            return "lnbcrt";
        if (network.ChainName == ChainName.Testnet || network == NBitcoin.Bitcoin.Instance.Testnet4)
            return "lntb";
        if (network == NBitcoin.Bitcoin.Instance.Signet || network == NBitcoin.Bitcoin.Instance.Mutinynet
            || network.ChainName.ToString().Contains("signet", StringComparison.OrdinalIgnoreCase))
            return "lntbs";
        return null;
    }

    /// <summary>Decodes and verifies an invoice, throwing <see cref="FormatException"/> when it is not valid for <paramref name="network"/>.</summary>
    public static Bolt11Invoice Parse(string invoice, Network network) =>
        TryParse(invoice, network, out var result, out var error) ? result : throw new FormatException(error);

    /// <summary>Decodes and verifies an invoice; on failure <paramref name="error"/> says why. Never throws for bad input.</summary>
    public static bool TryParse(
        string? invoice,
        Network network,
        [NotNullWhen(true)] out Bolt11Invoice? result,
        [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(network);
        result = null;
        error = Decode(invoice, network, ref result);
        return error is null;
    }

    // Returns null on success, else the reason the invoice is refused.
    private static string? Decode(string? text, Network network, ref Bolt11Invoice? result)
    {
        if (string.IsNullOrEmpty(text))
            return "The invoice is empty.";
        if (text.StartsWith(UriScheme, StringComparison.OrdinalIgnoreCase))
            text = text[UriScheme.Length..];
        if (text.Length > MaxLength)
            return $"The invoice is longer than {MaxLength} characters.";

        bool hasLower = false, hasUpper = false;
        foreach (var c in text)
        {
            if (c < 33 || c > 126)
                return "The invoice contains a character that bech32 does not allow.";
            hasLower |= c is >= 'a' and <= 'z';
            hasUpper |= c is >= 'A' and <= 'Z';
        }
        if (hasLower && hasUpper)
            return "The invoice mixes upper and lower case.";
        text = text.ToLowerInvariant();

        var separator = text.LastIndexOf('1');
        if (separator < 0)
            return "The invoice has no bech32 separator '1'.";
        if (separator == 0)
            return "The invoice has no human-readable part.";
        foreach (var c in text.AsSpan(separator + 1))
        {
            if (!Bech32Charset.Contains(c, StringComparison.Ordinal))
                return "The invoice contains a character outside the bech32 alphabet.";
        }
        if (text.Length - separator - 1 < TimestampWords + SignatureWords + 6)
            return "The invoice is too short to hold a timestamp, a signature and a checksum.";

        var hrp = text[..separator];
        if (ParseHumanReadablePart(hrp, network, out var prefix, out var amountMsat) is { } hrpError)
            return hrpError;

        byte[] words;
        try
        {
            var encoder = new Bech32Encoder(Encoding.ASCII.GetBytes(hrp)) { StrictLength = false };
            words = encoder.DecodeDataRaw(text, out var encodingType);
            if (encodingType != Bech32EncodingType.BECH32)
                return "The invoice uses a bech32m checksum; BOLT #11 uses bech32.";
        }
        catch (FormatException e)
        {
            return $"The invoice is not valid bech32: {e.Message}";
        }
        if (words.Length < TimestampWords + SignatureWords)
            return "The invoice is too short to hold a timestamp and a signature.";

        var invoice = new Bolt11Invoice(text, hrp, prefix, network) { AmountMsat = amountMsat };
        var data = words.AsSpan(0, words.Length - SignatureWords);
        invoice.Timestamp = DateTimeOffset.FromUnixTimeSeconds((long)ReadUInt(data[..TimestampWords]));

        if (invoice.ReadTaggedFields(data[TimestampWords..], out var explicitPayee) is { } fieldError)
            return fieldError;
        if (invoice.PaymentHash.Length == 0)
            return "The invoice has no payment hash (field p).";
        if (invoice.Description is null && invoice.DescriptionHash is null)
            return "The invoice has neither a description (field d) nor a description hash (field h).";

        if (VerifySignature(hrp, data, words.AsSpan(words.Length - SignatureWords), explicitPayee, out var payee) is { } signatureError)
            return signatureError;
        invoice.PayeePubKey = payee;
        invoice.PayeeWasExplicit = explicitPayee is not null;

        result = invoice;
        return null;
    }

    private static string? ParseHumanReadablePart(string hrp, Network network, out string prefix, out long? amountMsat)
    {
        prefix = "";
        amountMsat = null;
        if (!hrp.StartsWith("ln", StringComparison.Ordinal))
            return "The invoice does not start with \"ln\".";

        var currencyEnd = 2;
        while (currencyEnd < hrp.Length && hrp[currencyEnd] is >= 'a' and <= 'z')
            currencyEnd++;
        prefix = hrp[..currencyEnd];
        if (prefix is not ("lnbc" or "lntb" or "lntbs" or "lnbcrt"))
            return $"Unknown invoice prefix \"{prefix}\".";
        var expected = PrefixFor(network);
        if (expected is null)
            return $"Network {network} has no BOLT #11 invoice prefix.";
        if (prefix != expected)
            return $"The invoice is for another network: prefix \"{prefix}\", expected \"{expected}\" for {network}.";

        var amount = hrp.AsSpan(currencyEnd);
        if (amount.IsEmpty)
            return null;

        var digitsEnd = 0;
        while (digitsEnd < amount.Length && char.IsAsciiDigit(amount[digitsEnd]))
            digitsEnd++;
        var digits = amount[..digitsEnd];
        var multiplier = amount[digitsEnd..];
        if (digits.IsEmpty)
            return "The invoice amount has no digits.";
        if (multiplier.Length > 1 || (multiplier.Length == 1 && multiplier[0] is not ('m' or 'u' or 'n' or 'p')))
            return $"Invalid amount multiplier \"{multiplier}\": expected m, u, n or p.";
        if (digits[0] == '0')
            return "The invoice amount is zero or has a leading zero.";
        // 21 million bitcoin in pico-bitcoin has 20 digits; 25 digits times 10^11 still fits in 128 bits.
        if (digits.Length > 25 || !UInt128.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            return "The invoice amount is too large.";

        UInt128 msat;
        switch (multiplier.IsEmpty ? ' ' : multiplier[0])
        {
            case 'p':
                // A pico-bitcoin is a tenth of a millisatoshi, which the network cannot carry.
                if (value % 10 != 0)
                    return "The invoice amount has sub-millisatoshi precision (a 'p' amount must end in 0).";
                msat = value / 10;
                break;
            case 'n':
                msat = value * 100;
                break;
            case 'u':
                msat = value * 100_000;
                break;
            case 'm':
                msat = value * 100_000_000;
                break;
            default:
                msat = value * MsatPerBitcoin;
                break;
        }
        if (msat > MaxAmountMsat)
            return "The invoice amount is more than 21 million bitcoin.";
        amountMsat = (long)msat;
        return null;
    }

    // Reads the tagged fields. Fields of an unknown type, or a known type with the wrong length, are skipped
    // as BOLT #11 requires; where a field repeats, the first usable one wins (the writer's preferred one).
    private string? ReadTaggedFields(ReadOnlySpan<byte> fields, out PubKey? explicitPayee)
    {
        explicitPayee = null;
        List<Bolt11Fallback> fallbacks = [];
        List<IReadOnlyList<Bolt11RouteHop>> routeHints = [];
        var sawFeatures = false;
        var sawExpiry = false;
        var sawCltv = false;

        var position = 0;
        while (position < fields.Length)
        {
            if (fields.Length - position < 3)
                return "A tagged field is cut short.";
            var type = fields[position];
            var length = (fields[position + 1] << 5) | fields[position + 2];
            position += 3;
            if (fields.Length - position < length)
                return "A tagged field is longer than the invoice.";
            var field = fields.Slice(position, length);
            position += length;

            switch (type)
            {
                case 1 when length == HashWords && PaymentHash.Length == 0: // p
                    PaymentHash = Convert.ToHexStringLower(WordsToBytes(field));
                    break;
                case 16 when length == HashWords && PaymentSecret is null: // s
                    PaymentSecret = Convert.ToHexStringLower(WordsToBytes(field));
                    break;
                case 23 when length == HashWords && DescriptionHash is null: // h
                    DescriptionHash = Convert.ToHexStringLower(WordsToBytes(field));
                    break;
                case 13 when Description is null: // d
                    try
                    {
                        Description = StrictUtf8.GetString(WordsToBytes(field));
                    }
                    catch (DecoderFallbackException)
                    {
                        return "The description (field d) is not valid UTF-8.";
                    }
                    break;
                case 27 when PaymentMetadata is null: // m
                    PaymentMetadata = Convert.ToHexStringLower(WordsToBytes(field));
                    break;
                case 19 when length == PubKeyWords && explicitPayee is null: // n
                    if (!PubKey.TryCreatePubKey(WordsToBytes(field), out explicitPayee))
                        return "The payee node id (field n) is not a valid public key.";
                    break;
                case 6 when length > 0 && !sawExpiry: // x
                    sawExpiry = true;
                    if (!TryReadLong(field, out var expiry))
                        return "The expiry (field x) is too large.";
                    ExpirySeconds = expiry;
                    break;
                case 24 when length > 0 && !sawCltv: // c
                    sawCltv = true;
                    if (!TryReadLong(field, out var cltv))
                        return "The min_final_cltv_expiry_delta (field c) is too large.";
                    MinFinalCltvExpiry = cltv;
                    break;
                case 9 when length > 0: // f
                    if (ReadFallback(field, Network) is { } fallback)
                        fallbacks.Add(fallback);
                    break;
                case 3: // r
                    if (ReadRouteHint(field) is { } hint)
                        routeHints.Add(hint);
                    break;
                case 5 when !sawFeatures: // 9
                    sawFeatures = true;
                    Features = ReadFeatureBits(field);
                    foreach (var bit in Features)
                    {
                        if (bit % 2 == 0 && !KnownRequiredFeatures.Contains(bit))
                            return $"The invoice requires feature bit {bit}, which we do not understand.";
                    }
                    break;
                default:
                    break; // unknown type, wrong length or a repeat: skipped
            }
        }

        Fallbacks = fallbacks;
        RouteHints = routeHints;
        return null;
    }

    private static Bolt11Fallback? ReadFallback(ReadOnlySpan<byte> field, Network network)
    {
        var version = field[0];
        var program = WordsToBytes(field[1..]);
        BitcoinAddress? address = (version, program.Length) switch
        {
            (17, 20) => new BitcoinPubKeyAddress(new KeyId(program), network),
            (18, 20) => new BitcoinScriptAddress(new ScriptId(program), network),
            (0, 20) => new BitcoinWitPubKeyAddress(new WitKeyId(program), network),
            (0, 32) => new BitcoinWitScriptAddress(new WitScriptId(program), network),
            (1, 32) when TaprootPubKey.TryCreate(program, out var taproot) => new TaprootAddress(taproot, network),
            _ => null,
        };
        // Versions 19 to 31 are for the future, and a known version with a malformed program is unusable.
        return address is null ? null : new Bolt11Fallback(version, Convert.ToHexStringLower(program), address);
    }

    private static List<Bolt11RouteHop>? ReadRouteHint(ReadOnlySpan<byte> field)
    {
        var bytes = WordsToBytes(field);
        if (bytes.Length == 0 || bytes.Length % RouteHopBytes != 0)
            return null;
        var hops = new List<Bolt11RouteHop>(bytes.Length / RouteHopBytes);
        for (var offset = 0; offset < bytes.Length; offset += RouteHopBytes)
        {
            var hop = bytes.AsSpan(offset, RouteHopBytes);
            if (!PubKey.TryCreatePubKey(hop[..33], out var nodeId))
                return null;
            hops.Add(new Bolt11RouteHop(
                nodeId,
                System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(hop[33..41]),
                System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(hop[41..45]),
                System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(hop[45..49]),
                System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(hop[49..51])));
        }
        return hops;
    }

    private static List<int> ReadFeatureBits(ReadOnlySpan<byte> field)
    {
        // Big-endian: bit 0 is the lowest bit of the last word.
        List<int> bits = [];
        for (var i = field.Length - 1; i >= 0; i--)
        {
            var shift = (field.Length - 1 - i) * 5;
            for (var b = 0; b < 5; b++)
            {
                if (((field[i] >> b) & 1) == 1)
                    bits.Add(shift + b);
            }
        }
        return bits;
    }

    private static string? VerifySignature(
        string hrp, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signatureWords, PubKey? explicitPayee, out PubKey payee)
    {
        payee = null!;
        var signature = WordsToBytes(signatureWords);
        var compact = signature[..64];
        int recoveryId = signature[64];

        // The signed message is the hrp as bytes, then the data words (without the signature) packed
        // into bytes with the last byte padded with zero bits.
        var message = new byte[hrp.Length + (data.Length * 5 + 7) / 8];
        Encoding.ASCII.GetBytes(hrp, message);
        WordsToBytes(data, message.AsSpan(hrp.Length), padLastByte: true);
        var hash = new uint256(SHA256.HashData(message));

        if (!ECDSASignature.TryParseFromCompact(compact, out var ecdsa))
            return "The signature is not a valid secp256k1 signature.";

        if (explicitPayee is not null)
        {
            // With an n field the spec asks to verify against it rather than recover; the recovery id is not used.
            // MakeCanonical accepts a high-S signature, as recovery would.
            if (!explicitPayee.Verify(hash, ecdsa.MakeCanonical()))
                return "The signature does not match the payee node id (field n).";
            payee = explicitPayee;
            return null;
        }

        if (!CompactSignature.IsValidRecId(recoveryId))
            return $"The signature's recovery id {recoveryId} is not 0 to 3.";
        try
        {
            payee = PubKey.RecoverCompact(hash, new CompactSignature(recoveryId, compact));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            return "The signature is not recoverable: no public key signed this invoice.";
        }
        return payee is null ? "The signature is not recoverable: no public key signed this invoice." : null;
    }

    private static byte[] WordsToBytes(ReadOnlySpan<byte> words)
    {
        // Fields are padded to a multiple of 5 bits; the padding bits are dropped.
        var bytes = new byte[words.Length * 5 / 8];
        WordsToBytes(words, bytes, padLastByte: false);
        return bytes;
    }

    private static void WordsToBytes(ReadOnlySpan<byte> words, Span<byte> output, bool padLastByte)
    {
        int accumulator = 0, bits = 0, index = 0;
        foreach (var word in words)
        {
            accumulator = (accumulator << 5) | word;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                output[index++] = (byte)(accumulator >> bits);
                accumulator &= (1 << bits) - 1;
            }
        }
        if (padLastByte && bits > 0)
            output[index] = (byte)(accumulator << (8 - bits));
    }

    private static ulong ReadUInt(ReadOnlySpan<byte> words)
    {
        ulong value = 0;
        foreach (var word in words)
            value = (value << 5) | word;
        return value;
    }

    private static bool TryReadLong(ReadOnlySpan<byte> words, out long value)
    {
        value = 0;
        foreach (var word in words)
        {
            if (value > long.MaxValue >> 5)
                return false;
            value = (value << 5) | word;
        }
        return true;
    }
}

/// <summary>An on-chain fallback address (field f). <see cref="Version"/> is 17 for P2PKH, 18 for P2SH, else a witness version.</summary>
public sealed record Bolt11Fallback(int Version, string ProgramHex, BitcoinAddress Address);

/// <summary>One hop of a route hint (field r), as in a BOLT #7 channel_update.</summary>
public sealed record Bolt11RouteHop(
    PubKey NodeId,
    ulong ShortChannelId,
    uint FeeBaseMsat,
    uint FeeProportionalMillionths,
    ushort CltvExpiryDelta)
{
    /// <summary>The short channel id as block x transaction x output, e.g. "589390x3312x1".</summary>
    public string ShortChannelIdText =>
        FormattableString.Invariant($"{ShortChannelId >> 40}x{(ShortChannelId >> 16) & 0xFFFFFF}x{ShortChannelId & 0xFFFF}");
}
