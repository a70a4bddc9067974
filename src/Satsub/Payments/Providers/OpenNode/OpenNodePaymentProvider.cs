using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Satsub.Common;

namespace Satsub.Payments.Providers.OpenNode;

/// <summary>
/// OpenNode's API v1 charges: <c>POST /v1/charges</c> and <c>GET /v1/charge/{id}</c>, authenticated by the API key
/// in <c>Authorization</c>. A charge carries both a BOLT11 invoice and an on-chain address; OpenNode may convert
/// what it receives to fiat (its account setting), while Satsub accounts in the charge's sats.
/// </summary>
public sealed partial class OpenNodePaymentProvider(IHttpClientFactory httpClients, IOptions<OpenNodeOptions> options, TimeProvider clock)
    : IPaymentProvider
{
    public const string ProviderName = "opennode";
    internal const string HttpClientName = "Satsub.Payments.OpenNode";

    /// <summary>OpenNode's documented bounds of a charge's <c>ttl</c>, in minutes.</summary>
    internal const int MinTtlMinutes = 10, MaxTtlMinutes = 1440;

    private readonly OpenNodeOptions settings = options.Value;

    public string Name => ProviderName;

    public bool ConvertsFiat => true;

    /// <summary>The shape of a charge id (a UUID today); anything else is refused before any call or trust.</summary>
    internal static bool IsChargeId(string? id) => id is not null && ChargeIdShape().IsMatch(id);

    [GeneratedRegex("^[A-Za-z0-9_-]{8,100}$", RegexOptions.CultureInvariant)]
    private static partial Regex ChargeIdShape();

    public async Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var minutes = (request.ExpiresAt - now).TotalMinutes;
        if (minutes <= 0) throw new ArgumentException("The invoice has already expired.", nameof(request));
        // Whole minutes, never longer than our invoice, within OpenNode's 10..1440.
        var ttl = Math.Clamp((int)Math.Min(Math.Floor(minutes), MaxTtlMinutes), MinTtlMinutes, MaxTtlMinutes);

        var body = new JsonObject
        {
            // Without a currency the amount is in satoshis (OpenNode's default); a fiat price is sent as its decimal.
            ["amount"] = request.Fiat is { } fiat ? JsonValue.Create(fiat.Amount) : JsonValue.Create(request.Amount.Value),
            ["description"] = request.Description,
            ["order_id"] = request.InvoiceId.ToString("D"),
            ["callback_url"] = settings.CallbackUrl,
            ["auto_settle"] = false,
            ["ttl"] = ttl,
        };
        if (request.Fiat is { } f) body["currency"] = f.Currency.ToUpperInvariant();

        var data = await SendAsync(HttpMethod.Post, "/v1/charges", body.ToJsonString(), ct);
        return ToProviderInvoice(data, request, now.AddMinutes(ttl));
    }

    public async Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct)
    {
        if (!IsChargeId(providerInvoiceId))
            throw new ArgumentException("Not an OpenNode charge id.", nameof(providerInvoiceId));
        var data = await SendAsync(HttpMethod.Get, "/v1/charge/" + providerInvoiceId, body: null, ct);
        return ToState(data, providerInvoiceId);
    }

    private async Task<JsonElement> SendAsync(HttpMethod method, string path, string? body, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(method, new Uri(settings.Url!.TrimEnd('/') + path));
        message.Headers.TryAddWithoutValidation("Authorization", settings.ApiKey);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null)
            message.Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

        try
        {
            using var http = httpClients.CreateClient(HttpClientName);
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, ct);
            if (!response.IsSuccessStatusCode)
                throw Unavailable($"OpenNode answered HTTP {(int)response.StatusCode}.");
            using var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(ct));
            if (json.RootElement.ValueKind != JsonValueKind.Object
                || !json.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
                throw Unavailable("OpenNode's answer had no charge.");
            return data.Clone();
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw Unavailable("OpenNode did not answer in time.", ex);
        }
        catch (HttpRequestException ex)
        {
            throw Unavailable("OpenNode could not be reached.", ex);
        }
        catch (JsonException ex)
        {
            throw Unavailable("OpenNode's answer was not valid JSON.", ex);
        }
    }

    private static PaymentProviderUnavailableException Unavailable(string message, Exception? inner = null) =>
        new(ProviderName, message, inner);

    private static ProviderInvoice ToProviderInvoice(JsonElement data, InvoiceRequest request, DateTimeOffset expires)
    {
        var id = Text(data, "id");
        if (!IsChargeId(id)) throw Unavailable("OpenNode's answer had no valid charge id.");

        var amount = Int64(data, "amount") is { } sats and > 0 and <= Sats.MaxMoney ? new Sats(sats) : (Sats?)null;
        if (amount is null) throw Unavailable("OpenNode's answer had no amount.");

        var bolt11 = data.TryGetProperty("lightning_invoice", out var ln) && ln.ValueKind == JsonValueKind.Object ? Text(ln, "payreq") : null;
        var address = (data.TryGetProperty("chain_invoice", out var chain) && chain.ValueKind == JsonValueKind.Object ? Text(chain, "address") : null)
            ?? Text(data, "address");

        var uri = PaymentUri(request.Method, bolt11, address, amount.Value)
            ?? Text(data, "hosted_checkout_url")
            ?? throw Unavailable("OpenNode's answer had neither an invoice, an address nor a checkout link.");

        // The rate OpenNode used, in sats per unit of fiat (informative: the sats figure is what the buyer owes).
        decimal? rate = request.Fiat is { Amount: > 0 } fiat ? decimal.Round(amount.Value.Value / fiat.Amount, 8, MidpointRounding.ToZero) : null;
        return new ProviderInvoice(id!, bolt11, address, uri, expires, amount, rate);
    }

    /// <summary>
    /// The URI a wallet opens: <c>lightning:</c> for a Lightning sale, BIP21 with the exact BTC amount for on-chain
    /// (the BOLT11 and address themselves are passed on exactly as OpenNode returned them).
    /// </summary>
    internal static string? PaymentUri(PaymentMethod method, string? bolt11, string? address, Sats amount) => method switch
    {
        PaymentMethod.Lightning when bolt11 is not null => "lightning:" + bolt11,
        _ when address is not null => "bitcoin:" + address + "?amount=" + (amount.Value / 100_000_000m).ToString("0.########", CultureInfo.InvariantCulture),
        _ when bolt11 is not null => "lightning:" + bolt11,
        _ => null,
    };

    internal static ProviderInvoiceState ToState(JsonElement data, string requestedId)
    {
        if (Text(data, "id") != requestedId) throw Unavailable("OpenNode answered about another charge.");
        var amount = Int64(data, "amount");
        var missing = Int64(data, "missing_amt");

        var (status, exception) = Text(data, "status") switch
        {
            "unpaid" => (ProviderInvoiceStatus.New, PaymentException.None),
            "processing" => (ProviderInvoiceStatus.Processing, PaymentException.None),
            "paid" => (ProviderInvoiceStatus.Settled, PaymentException.None),
            // Seen but short: the buyer may still send the rest; recorded, never settled.
            "underpaid" => (ProviderInvoiceStatus.New, PaymentException.PaidPartial),
            "expired" => (ProviderInvoiceStatus.Expired, missing is > 0 ? PaymentException.PaidPartial : PaymentException.None),
            "refunded" => (ProviderInvoiceStatus.Invalid, PaymentException.PaidPartial),
            _ => throw Unavailable("OpenNode reported a charge status Satsub does not know."),
        };

        Sats? paid = (Text(data, "status"), amount) switch
        {
            ("paid", > 0) => new Sats(amount.Value),
            ("underpaid" or "expired", > 0) when missing is >= 0 && missing < amount => new Sats(amount.Value - missing.Value),
            _ => null,
        };
        return new ProviderInvoiceState(requestedId, status, exception, paid);
    }

    private static string? Text(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>An integer that OpenNode may send as a JSON number or as a string of digits.</summary>
    private static long? Int64(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n)) return n;
        if (v.ValueKind == JsonValueKind.String && long.TryParse(v.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out n)) return n;
        return null;
    }
}
