using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Satsub.Common;

namespace Satsub.Payments.Providers.BitPay;

/// <summary>
/// BitPay's REST API v2 (<c>X-Accept-Version: 2.0.0</c>), invoices resource, merchant facade: every call is signed
/// by the paired client identity (<see cref="BitPaySigner"/>). Sales may be converted to fiat by BitPay; Satsub
/// still accounts in sats at the invoice's BTC figure.
/// </summary>
public sealed partial class BitPayPaymentProvider : IPaymentProvider
{
    public const string ProviderName = "bitpay";
    internal const string HttpClientName = "Satsub.Payments.BitPay";

    /// <summary>BitPay's longest acceptance window: 15 minutes, in milliseconds.</summary>
    internal const long MaxAcceptanceWindowMs = 900_000;

    private readonly IHttpClientFactory httpClients;
    private readonly BitPayOptions options;
    private readonly BitPaySigner signer;
    private readonly TimeProvider clock;

    public BitPayPaymentProvider(IHttpClientFactory httpClients, IOptions<BitPayOptions> options, TimeProvider clock)
    {
        this.httpClients = httpClients;
        this.options = options.Value;
        this.clock = clock;
        signer = new BitPaySigner(this.options.LoadKey());
    }

    public string Name => ProviderName;

    public bool ConvertsFiat => true;

    /// <summary>The shape of BitPay's invoice ids (base58-like, 22 characters today); anything else is refused before any call.</summary>
    internal static bool IsInvoiceId(string? id) => id is not null && InvoiceIdShape().IsMatch(id);

    [GeneratedRegex("^[A-Za-z0-9]{8,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex InvoiceIdShape();

    public async Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct)
    {
        var window = (long)Math.Floor((request.ExpiresAt - clock.GetUtcNow()).TotalMilliseconds);
        if (window <= 0) throw new ArgumentException("The invoice has already expired.", nameof(request));

        // Only fields of BitPay's documented "Create an Invoice" body. A BTC price is exact: sats / 10^8 in decimal.
        var body = new JsonObject
        {
            ["token"] = options.Token,
            ["price"] = request.Fiat is { } fiat ? fiat.Amount : BtcAmount(request.Amount),
            ["currency"] = request.Fiat is { } f ? f.Currency.ToUpperInvariant() : "BTC",
            ["orderId"] = request.InvoiceId.ToString("D"),
            ["itemDesc"] = request.Description,
            ["notificationURL"] = options.NotificationUrl,
            ["extendedNotifications"] = true,
            ["acceptanceWindow"] = Math.Min(window, MaxAcceptanceWindowMs),
            ["paymentCurrencies"] = new JsonArray("BTC"),
            // BitPay's documented idempotence key for POSTs: a retried creation returns the same invoice.
            ["guid"] = request.InvoiceId.ToString("D"),
        }.ToJsonString();

        var data = await SendAsync(HttpMethod.Post, new Uri(BaseUrl + "/invoices"), body, ct);
        return ToProviderInvoice(data, request);
    }

    public async Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct)
    {
        if (!IsInvoiceId(providerInvoiceId))
            throw new ArgumentException("Not a BitPay invoice id.", nameof(providerInvoiceId));
        var url = new Uri($"{BaseUrl}/invoices/{providerInvoiceId}?token={Uri.EscapeDataString(options.Token!)}");
        var data = await SendAsync(HttpMethod.Get, url, body: null, ct);
        return ToState(data, providerInvoiceId);
    }

    private string BaseUrl => options.Url!.TrimEnd('/');

    internal static decimal BtcAmount(Sats sats) => sats.Value / 100_000_000m;

    private async Task<JsonElement> SendAsync(HttpMethod method, Uri url, string? body, CancellationToken ct)
    {
        using var message = new HttpRequestMessage(method, url);
        message.Headers.Add("X-Accept-Version", "2.0.0");
        message.Headers.Add("x-identity", signer.Identity);
        message.Headers.Add("x-signature", signer.Sign(url, body ?? ""));
        // BitPay asks for Content-Type: application/json on every request, a GET included (with an empty body).
        message.Content = body is not null
            ? new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json"))
            : new ByteArrayContent([]) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };

        try
        {
            using var http = httpClients.CreateClient(HttpClientName);
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseContentRead, ct);
            if (!response.IsSuccessStatusCode)
                throw Unavailable($"BitPay answered HTTP {(int)response.StatusCode}.");
            using var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(ct));
            var root = json.RootElement;
            // BitPay may report an error inside a 2xx answer ({"status":"error", ...} or {"error": ...}).
            if (root.ValueKind != JsonValueKind.Object
                || (root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String && s.GetString() == "error")
                || (root.TryGetProperty("error", out var e) && e.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
                || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
                throw Unavailable("BitPay answered with an error.");
            return data.Clone();
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw Unavailable("BitPay did not answer in time.", ex);
        }
        catch (HttpRequestException ex)
        {
            throw Unavailable("BitPay could not be reached.", ex);
        }
        catch (JsonException ex)
        {
            throw Unavailable("BitPay's answer was not valid JSON.", ex);
        }
    }

    private static PaymentProviderUnavailableException Unavailable(string message, Exception? inner = null) =>
        new(ProviderName, message, inner);

    private ProviderInvoice ToProviderInvoice(JsonElement data, InvoiceRequest request)
    {
        var id = String(data, "id");
        if (!IsInvoiceId(id)) throw Unavailable("BitPay's answer had no valid invoice id.");

        var total = Satoshis(data, "paymentTotals");
        decimal? rate = null;
        // The rate BitPay used, in sats per unit of fiat, from the subtotal (the price without the network fee).
        if (request.Fiat is { Amount: > 0 } fiat && Satoshis(data, "paymentSubtotals") is { } subtotal)
            rate = decimal.Round(subtotal.Value / fiat.Amount, 8, MidpointRounding.ToZero);

        var expires = Int64(data, "expirationTime") is { } ms and > 0
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : request.ExpiresAt;

        // BitPay pays through its payment protocol: the wallet URI it gives (BIP72b), else the hosted invoice page.
        string? bip72 = null, bip73 = null;
        if (data.TryGetProperty("paymentCodes", out var codes) && codes.ValueKind == JsonValueKind.Object
            && codes.TryGetProperty("BTC", out var btc) && btc.ValueKind == JsonValueKind.Object)
        {
            bip72 = String(btc, "BIP72b");
            bip73 = String(btc, "BIP73");
        }
        var uri = bip72 ?? bip73 ?? String(data, "url") ?? throw Unavailable("BitPay's answer had no payment link.");
        return new ProviderInvoice(id!, Bolt11: null, Address: null, uri, expires, total, rate);
    }

    internal static ProviderInvoiceState ToState(JsonElement data, string requestedId)
    {
        var id = String(data, "id");
        if (id != requestedId) throw Unavailable("BitPay answered about another invoice.");

        var exception = data.TryGetProperty("exceptionStatus", out var ex) && ex.ValueKind == JsonValueKind.String
            ? ex.GetString() switch
            {
                "paidPartial" => PaymentException.PaidPartial,
                "paidOver" => PaymentException.PaidOver,
                "paidLate" => PaymentException.PaidLate,
                // An exception we do not know is flagged for the admin rather than ignored.
                _ => PaymentException.Invalid,
            }
            : PaymentException.None;

        // Fulfil only on confirmed or complete: "paid" is no guarantee (BitPay's IPN guide).
        var status = String(data, "status") switch
        {
            "new" => ProviderInvoiceStatus.New,
            "paid" => ProviderInvoiceStatus.Processing,
            "confirmed" or "complete" => ProviderInvoiceStatus.Settled,
            "expired" => ProviderInvoiceStatus.Expired,
            "invalid" or "declined" => ProviderInvoiceStatus.Invalid,
            _ => throw Unavailable("BitPay reported an invoice status Satsub does not know."),
        };

        // amountPaid is in the smallest unit of the transaction currency; only BTC is offered, so it is sats.
        Sats? paid = null;
        var currency = String(data, "transactionCurrency");
        if ((currency is null || currency == "BTC") && Int64(data, "amountPaid") is { } sats and >= 0 and <= Sats.MaxMoney)
            paid = new Sats(sats);
        return new ProviderInvoiceState(requestedId, status, exception, paid);
    }

    private static string? String(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long? Int64(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : null;

    /// <summary>The BTC entry of a per-currency map of smallest units (other coins' figures may not fit in 64 bits).</summary>
    private static Sats? Satoshis(JsonElement data, string name) =>
        data.TryGetProperty(name, out var map) && map.ValueKind == JsonValueKind.Object
        && Int64(map, "BTC") is { } sats and > 0 and <= Sats.MaxMoney
            ? new Sats(sats)
            : null;
}
