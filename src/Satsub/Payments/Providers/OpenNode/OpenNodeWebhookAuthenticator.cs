using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Satsub.Payments.Providers.OpenNode;

/// <summary>
/// OpenNode's charge webhooks (<c>application/x-www-form-urlencoded</c>; a JSON body is read too) carry
/// <c>hashed_order</c> = hex HMAC-SHA256 of the charge <c>id</c>, keyed by the API key that created the charge.
/// It is checked in constant time before anything else in the body is used. It signs only the id, not the status,
/// so the status is a hint: the charge is always re-fetched.
/// </summary>
public sealed class OpenNodeWebhookAuthenticator(IOptions<OpenNodeOptions> options) : IWebhookAuthenticator
{
    /// <summary>A real charge event is a few kilobytes; anything far larger is not one.</summary>
    internal const int MaxBodyBytes = 64 * 1024;

    private readonly byte[] key = Encoding.UTF8.GetBytes(options.Value.ApiKey ?? throw new InvalidOperationException("Payments:OpenNode:ApiKey is not set."));

    public string Provider => OpenNodePaymentProvider.ProviderName;

    public WebhookNotification? Authenticate(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty || body.Length > MaxBodyBytes) return null;
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
        }
        catch (ArgumentException)
        {
            return null;
        }

        var fields = IsJson(headers, text) ? ReadJson(text) : ReadForm(text);
        if (fields is not var (id, hashedOrder, status) || !OpenNodePaymentProvider.IsChargeId(id) || !Verify(id!, hashedOrder)) return null;

        // Only now is anything else in the body read, and it is still only a hint.
        var word = status is { Length: > 0 and <= 32 } && status.All(char.IsAsciiLetter) ? status : "unknown";
        return new WebhookNotification($"{id}:{word}", id, word);
    }

    private bool Verify(string id, string? hashedOrder)
    {
        if (hashedOrder is not { Length: 64 } || !hashedOrder.All(Uri.IsHexDigit)) return false;
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(id));
        return CryptographicOperations.FixedTimeEquals(expected, Convert.FromHexString(hashedOrder));
    }

    private static bool IsJson(IHeaderDictionary headers, string text) =>
        headers.ContentType.ToString().Contains("json", StringComparison.OrdinalIgnoreCase)
        || text.AsSpan().TrimStart().StartsWith("{");

    private static (string? Id, string? HashedOrder, string? Status)? ReadForm(string text)
    {
        var form = QueryHelpers.ParseNullableQuery(text);
        if (form is null) return null;
        return (Single(form, "id"), Single(form, "hashed_order"), Single(form, "status"));

        static string? Single(Dictionary<string, Microsoft.Extensions.Primitives.StringValues> form, string name) =>
            form.TryGetValue(name, out var v) && v.Count == 1 ? v[0] : null;
    }

    private static (string? Id, string? HashedOrder, string? Status)? ReadJson(string text)
    {
        try
        {
            using var json = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 16 });
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            return (Text(root, "id"), Text(root, "hashed_order"), Text(root, "status"));
        }
        catch (JsonException)
        {
            return null;
        }

        static string? Text(JsonElement obj, string name) =>
            obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }
}
