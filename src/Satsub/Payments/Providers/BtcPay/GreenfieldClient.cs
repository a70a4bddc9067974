using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Polly.Timeout;

namespace Satsub.Payments.Providers.BtcPay;

/// <summary>
/// The three Greenfield calls Satsub makes, on the paths of BTCPay's OpenAPI document (2.4): invoices are created
/// under the store, and read — with their payment methods — by invoice id alone (the server resolves the store).
/// Any failure — time-out, refused connection, non-2xx answer, unreadable body — becomes
/// <see cref="PaymentProviderUnavailableException"/> saying which call failed and how, without the API key or
/// BTCPay's answer (that goes to the log, as BTCPay's own error code and message).
/// </summary>
internal sealed class GreenfieldClient(IHttpClientFactory httpClients, IOptions<BtcPayOptions> options, ILogger<GreenfieldClient> logger)
{
    public const string HttpClientName = "btcpay";

    public Task<InvoiceData> CreateInvoiceAsync(CreateInvoiceBody body, CancellationToken ct) =>
        SendAsync<InvoiceData>(HttpMethod.Post, $"api/v1/stores/{Segment(options.Value.StoreId!)}/invoices", body, "creating an invoice", ct);

    public Task<InvoiceData> GetInvoiceAsync(string invoiceId, CancellationToken ct) =>
        SendAsync<InvoiceData>(HttpMethod.Get, $"api/v1/invoices/{Segment(invoiceId)}", null, $"reading invoice {invoiceId}", ct);

    public Task<InvoicePaymentMethodData[]> GetPaymentMethodsAsync(string invoiceId, CancellationToken ct) =>
        SendAsync<InvoicePaymentMethodData[]>(HttpMethod.Get, $"api/v1/invoices/{Segment(invoiceId)}/payment-methods", null, $"reading the payment methods of invoice {invoiceId}", ct);

    private static string Segment(string value) => Uri.EscapeDataString(value);

    private async Task<T> SendAsync<T>(HttpMethod method, string relativePath, object? body, string what, CancellationToken ct) where T : class
    {
        var settings = options.Value;
        using var request = new HttpRequestMessage(method, new Uri(settings.BaseUri, relativePath));
        request.Headers.Authorization = new AuthenticationHeaderValue("token", settings.ApiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null)
        {
            // Serialized up front: a plain body with a Content-Length, no chunked encoding.
            request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), GreenfieldJson.Options));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        }

        var client = httpClients.CreateClient(HttpClientName);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
            if (!response.IsSuccessStatusCode)
                throw Unavailable(await DescribeFailureAsync(method, relativePath, what, response, ct));
            return await response.Content.ReadFromJsonAsync<T>(GreenfieldJson.Options, ct)
                ?? throw Unavailable($"{what}: BTCPay answered with an empty body.");
        }
        catch (TimeoutRejectedException ex)
        {
            throw Unavailable($"{what}: BTCPay did not answer within {settings.TimeoutSeconds} s (Payments:BtcPay:TimeoutSeconds).", ex);
        }
        catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw Unavailable($"{what}: BTCPay did not answer within {settings.TimeoutSeconds} s (Payments:BtcPay:TimeoutSeconds).", ex);
        }
        catch (HttpRequestException ex)
        {
            throw Unavailable($"{what}: BTCPay could not be reached ({ex.HttpRequestError}).", ex);
        }
        catch (JsonException ex)
        {
            throw Unavailable($"{what}: BTCPay's answer is not the JSON its API describes.", ex);
        }
    }

    private async Task<string> DescribeFailureAsync(HttpMethod method, string path, string what, HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        if (await ReadErrorAsync(response, ct) is { } detail)
            logger.LogWarning("BTCPay answered {Status} to {Method} {Path}: {Detail}", status, method, path, detail);
        else
            logger.LogWarning("BTCPay answered {Status} to {Method} {Path}", status, method, path);
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => $"{what}: BTCPay answered 401: check Payments:BtcPay:ApiKey.",
            HttpStatusCode.Forbidden => $"{what}: BTCPay answered 403: the API key needs btcpay.store.cancreateinvoice and btcpay.store.canviewinvoices on store Payments:BtcPay:StoreId.",
            HttpStatusCode.NotFound => $"{what}: BTCPay answered 404 (no such invoice or store).",
            _ => $"{what}: BTCPay answered {status}.",
        };
    }

    /// <summary>BTCPay's error code and message, for the log; never the raw body.</summary>
    private static async Task<string?> ReadErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (string.IsNullOrWhiteSpace(text)) return null;
            var trimmed = text.TrimStart();
            var errors = trimmed.StartsWith('[')
                ? JsonSerializer.Deserialize<GreenfieldError[]>(trimmed, GreenfieldJson.Options) ?? []
                : trimmed.StartsWith('{') ? [JsonSerializer.Deserialize<GreenfieldError>(trimmed, GreenfieldJson.Options)!] : [];
            var messages = errors
                .Where(e => e?.Message is not null)
                .Select(e => e.Path is { Length: > 0 } p ? $"{p}: {e.Message}" : e.Code is { Length: > 0 } c ? $"{c}: {e.Message}" : e.Message!)
                .ToList();
            if (messages.Count == 0) return null;
            var joined = string.Join("; ", messages);
            return joined.Length <= 500 ? joined : joined[..500] + "…";
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static PaymentProviderUnavailableException Unavailable(string message, Exception? inner = null) =>
        new(BtcPayPaymentProvider.ProviderName, message, inner);
}
