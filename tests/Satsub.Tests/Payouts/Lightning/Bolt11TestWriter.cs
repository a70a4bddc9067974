using System.Security.Cryptography;
using System.Text;
using NBitcoin;
using NBitcoin.DataEncoders;

namespace Satsub.Tests.Payouts.Lightning;

/// <summary>
/// Writes signed BOLT #11 invoices from raw tagged fields, for cases the spec has no example of
/// (an explicit n field, signet and regtest prefixes, malformed fields). Deliberately small and literal.
/// </summary>
internal static class Bolt11TestWriter
{
    public static readonly Key SpecKey = new(Convert.FromHexString(Bolt11SpecVectors.PrivateKeyHex));

    public static string Write(
        string hrp,
        long timestamp,
        IEnumerable<(int Type, byte[] Words)> fields,
        Key? key = null,
        Bech32EncodingType? encoding = null)
    {
        var words = new List<byte>();
        for (var i = 6; i >= 0; i--)
            words.Add((byte)((timestamp >> (5 * i)) & 31));
        foreach (var (type, data) in fields)
        {
            words.Add((byte)type);
            words.Add((byte)(data.Length >> 5));
            words.Add((byte)(data.Length & 31));
            words.AddRange(data);
        }

        var message = Encoding.ASCII.GetBytes(hrp).Concat(ToBytes(words, pad: true)).ToArray();
        var signature = (key ?? SpecKey).SignCompact(new uint256(SHA256.HashData(message)));
        words.AddRange(ToWords([.. signature.Signature, (byte)signature.RecoveryId]));
        return Encode(hrp, [.. words], encoding);
    }

    public static string Encode(string hrp, byte[] words, Bech32EncodingType? encoding = null) =>
        new Bech32Encoder(Encoding.ASCII.GetBytes(hrp)) { StrictLength = false }
            .EncodeData(words, encoding ?? Bech32EncodingType.BECH32);

    /// <summary>Bytes to 5-bit words, the last word padded with zero bits.</summary>
    public static byte[] ToWords(byte[] bytes)
    {
        var words = new List<byte>();
        int accumulator = 0, bits = 0;
        foreach (var b in bytes)
        {
            accumulator = (accumulator << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                words.Add((byte)((accumulator >> bits) & 31));
            }
        }
        if (bits > 0)
            words.Add((byte)((accumulator << (5 - bits)) & 31));
        return [.. words];
    }

    public static byte[] UInt(long value)
    {
        var words = new List<byte>();
        do
        {
            words.Insert(0, (byte)(value & 31));
            value >>= 5;
        } while (value > 0);
        return [.. words];
    }

    private static byte[] ToBytes(List<byte> words, bool pad)
    {
        var bytes = new List<byte>();
        int accumulator = 0, bits = 0;
        foreach (var w in words)
        {
            accumulator = (accumulator << 5) | w;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                bytes.Add((byte)(accumulator >> bits));
                accumulator &= (1 << bits) - 1;
            }
        }
        if (pad && bits > 0)
            bytes.Add((byte)(accumulator << (8 - bits)));
        return [.. bytes];
    }

    // Field types.
    public const int P = 1, S = 16, D = 13, H = 23, N = 19, X = 6, C = 24, F = 9, R = 3, Features = 5, M = 27;

    public static (int, byte[]) PaymentHashField() => (P, ToWords(Convert.FromHexString(Bolt11SpecVectors.PaymentHash)));
    public static (int, byte[]) SecretField() => (S, ToWords(Convert.FromHexString(Bolt11SpecVectors.PaymentSecret)));
    public static (int, byte[]) DescriptionField(string text) => (D, ToWords(Encoding.UTF8.GetBytes(text)));
}
