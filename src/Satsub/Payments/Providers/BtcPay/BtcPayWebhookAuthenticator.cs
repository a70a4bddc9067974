using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Satsub.Payments.Providers.BtcPay;

/// <summary>
/// BTCPay signs each delivery with <c>BTCPay-Sig: sha256=HEX(HMAC-SHA256(UTF8(webhook secret), body))</c>.
/// The signature is checked over the raw bytes, in constant time, before a single byte of the body is parsed;
/// then only the ids are read. The event id is <c>originalDeliveryId</c> (BTCPay keeps it across redeliveries,
/// so a redelivered event is the same event) or, without it, <c>deliveryId</c>.
/// </summary>
internal sealed class BtcPayWebhookAuthenticator(IOptions<BtcPayOptions> options) : IWebhookAuthenticator
{
    public const string SignatureHeader = "BTCPay-Sig";
    private const string SignaturePrefix = "sha256=";
    private const int SignatureBytes = 32;

    public string Provider => BtcPayPaymentProvider.ProviderName;

    public WebhookNotification? Authenticate(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        if (!headers.TryGetValue(SignatureHeader, out var values) || values.Count != 1) return null;
        return IsSigned(values[0], body, options.Value.WebhookSecret!) ? Read(body) : null;
    }

    /// <summary>Whether <paramref name="signature"/> (the header's value) is the HMAC of <paramref name="body"/> with the secret.</summary>
    internal static bool IsSigned(string? signature, ReadOnlySpan<byte> body, string secret)
    {
        if (signature is null || !signature.StartsWith(SignaturePrefix, StringComparison.OrdinalIgnoreCase)) return false;
        var hex = signature.AsSpan(SignaturePrefix.Length).Trim();
        if (hex.Length != SignatureBytes * 2) return false;
        Span<byte> claimed = stackalloc byte[SignatureBytes];
        if (Convert.FromHexString(hex, claimed, out _, out var written) != OperationStatus.Done || written != SignatureBytes) return false;
        Span<byte> expected = stackalloc byte[SignatureBytes];
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body, expected);
        return CryptographicOperations.FixedTimeEquals(expected, claimed);
    }

    /// <summary>The ids of an authentic delivery; null when the body is not the JSON object BTCPay sends.</summary>
    private static WebhookNotification? Read(ReadOnlySpan<byte> body)
    {
        string? deliveryId = null, originalDeliveryId = null, invoiceId = null, type = null;
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                var value = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
                switch (name)
                {
                    case "deliveryId": deliveryId = value; break;
                    case "originalDeliveryId": originalDeliveryId = value; break;
                    case "invoiceId": invoiceId = value; break;
                    case "type": type = value; break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        var eventId = string.IsNullOrEmpty(originalDeliveryId) ? deliveryId : originalDeliveryId;
        if (string.IsNullOrEmpty(eventId) || string.IsNullOrEmpty(type)) return null;
        return new WebhookNotification(eventId, string.IsNullOrEmpty(invoiceId) ? null : invoiceId, type);
    }
}
