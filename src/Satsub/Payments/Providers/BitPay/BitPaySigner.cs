using System.Text;
using NBitcoin;
using NBitcoin.Crypto;

namespace Satsub.Payments.Providers.BitPay;

/// <summary>
/// Signs merchant facade requests the way BitPay documents ("Making Requests"): <c>x-signature</c> is the hex DER
/// ECDSA (secp256k1) signature of SHA-256 over the full request URL followed by the request body, and
/// <c>x-identity</c> is the hex compressed public key of the paired client identity.
/// </summary>
internal sealed class BitPaySigner(Key key)
{
    /// <summary>The client identity, sent as <c>x-identity</c>.</summary>
    public string Identity { get; } = key.PubKey.ToHex();

    /// <summary>The message BitPay verifies: the full URL (query included) immediately followed by the body (empty for a GET).</summary>
    public static string SigningString(Uri fullUrl, string body) => fullUrl.AbsoluteUri + body;

    public string Sign(Uri fullUrl, string body)
    {
        var hash = new uint256(Hashes.SHA256(Encoding.UTF8.GetBytes(SigningString(fullUrl, body))));
        return Convert.ToHexStringLower(key.Sign(hash).ToDER());
    }
}
