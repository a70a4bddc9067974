using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Satsub.Payments.Providers.BitPay;

/// <summary>
/// BitPay does not sign its notifications (IPNs), so nothing in one is trusted: this only takes the invoice id,
/// and the invoice is always re-fetched (signed, from BitPay) before anything is credited. A forged IPN can at most
/// cause a re-fetch. Both documented body formats are read: the extended one
/// (<c>{"event":{"code":1005,"name":"invoice_confirmed"},"data":{"id":…,"status":…}}</c>, which Satsub asks for)
/// and the standard one (<c>{"id":…,"status":…}</c>).
/// </summary>
public sealed class BitPayWebhookAuthenticator : IWebhookAuthenticator
{
    /// <summary>A real IPN is a few kilobytes; anything far larger is not one.</summary>
    internal const int MaxBodyBytes = 64 * 1024;

    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 16 };

    public string Provider => BitPayPaymentProvider.ProviderName;

    public WebhookNotification? Authenticate(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty || body.Length > MaxBodyBytes) return null;
        try
        {
            using var json = JsonDocument.Parse(body.ToArray(), ParseOptions);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;

            var invoice = root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object ? data : root;
            var id = Text(invoice, "id");
            if (!BitPayPaymentProvider.IsInvoiceId(id)) return null;

            string? code = null, name = null;
            if (root.TryGetProperty("event", out var ev) && ev.ValueKind == JsonValueKind.Object)
            {
                if (ev.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var n) && n is > 0 and < 100_000)
                    code = n.ToString(CultureInfo.InvariantCulture);
                name = Token(Text(ev, "name"));
            }
            var status = Token(Text(invoice, "status"));

            // The same status redelivered gives the same event id, so the inbox keeps it once.
            var discriminator = code ?? status ?? "notification";
            return new WebhookNotification($"bitpay:{id}:{discriminator}", id, name ?? status ?? "invoice");
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Text(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A short word made of letters, digits and underscores; anything else is dropped (it is untrusted text).</summary>
    private static string? Token(string? value) =>
        value is { Length: > 0 and <= 64 } && value.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_') ? value : null;
}
