using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Satsub.Payments.Providers.Lnd;

/// <summary>
/// The few LND REST calls Satsub makes. Every failure becomes <see cref="PaymentProviderUnavailableException"/>
/// whose message names the call and the HTTP status only: never a body, a header or the URL.
/// </summary>
internal sealed class LndRestClient(IHttpClientFactory httpClients)
{
    /// <summary>Unary calls: a time-out per call, retries for GETs only.</summary>
    public const string HttpClientName = "lnd";

    /// <summary>The invoice subscription: no time-out, no retries (the watcher reconnects itself).</summary>
    public const string StreamHttpClientName = "lnd-subscribe";

    /// <summary><c>POST /v1/invoices</c>. Never retried: a retry could create a second invoice.</summary>
    public async Task<LndAddInvoiceResponse> AddInvoiceAsync(LndAddInvoiceRequest request, CancellationToken ct)
    {
        var response = await SendAsync(HttpMethod.Post, "v1/invoices", JsonContent.Create(request, options: LndJson.Options), "add invoice", ct);
        using (response)
            return await ReadAsync<LndAddInvoiceResponse>(response, "add invoice", ct);
    }

    /// <summary><c>GET /v1/invoice/{r_hash_str}</c> (hex payment hash); null when LND does not know the invoice.</summary>
    public async Task<LndInvoice?> LookupInvoiceAsync(string rHashHex, CancellationToken ct)
    {
        using var response = await SendAsync(HttpMethod.Get, "v1/invoice/" + rHashHex, null, "look up invoice", ct, isNotFound: IsInvoiceNotFoundAsync);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        return await ReadAsync<LndInvoice>(response, "look up invoice", ct);
    }

    /// <summary>
    /// LND answers an unknown payment hash with gRPC NOT_FOUND (HTTP 404) since lnd#5510; older nodes send
    /// code 2 (HTTP 500) with one of these messages, which is the only way to tell "not found" from a failure.
    /// </summary>
    private static async Task<bool> IsInvoiceNotFoundAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.StatusCode == HttpStatusCode.NotFound) return true;
        if (response.StatusCode != HttpStatusCode.InternalServerError) return false;
        try
        {
            var status = await response.Content.ReadFromJsonAsync<LndStatus>(LndJson.Options, ct);
            return status?.Message is "unable to locate invoice" or "there are no existing invoices";
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary><c>GET /v1/invoices</c>: invoices with an add_index above <paramref name="indexOffset"/>, oldest first.</summary>
    public async Task<LndListInvoiceResponse> ListInvoicesAsync(ulong indexOffset, ulong maxInvoices, CancellationToken ct)
    {
        var path = string.Create(CultureInfo.InvariantCulture, $"v1/invoices?index_offset={indexOffset}&num_max_invoices={maxInvoices}");
        using var response = await SendAsync(HttpMethod.Get, path, null, "list invoices", ct);
        return await ReadAsync<LndListInvoiceResponse>(response, "list invoices", ct);
    }

    /// <summary>
    /// Opens <c>GET /v1/invoices/subscribe?settle_index=N</c> and returns once LND has answered with headers: from
    /// then on the subscription is registered on the node, and the body is the stream of newline-delimited messages.
    /// </summary>
    public async Task<HttpResponseMessage> SubscribeInvoicesAsync(ulong settleIndex, CancellationToken ct)
    {
        var client = httpClients.CreateClient(StreamHttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Get,
            string.Create(CultureInfo.InvariantCulture, $"v1/invoices/subscribe?settle_index={settleIndex}"));
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            throw Unavailable("subscribe invoices", e);
        }
        if (response.IsSuccessStatusCode) return response;
        response.Dispose();
        throw new PaymentProviderUnavailableException(LndPaymentProvider.ProviderName,
            string.Create(CultureInfo.InvariantCulture, $"subscribe invoices answered HTTP {(int)response.StatusCode}."));
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, string what, CancellationToken ct,
        Func<HttpResponseMessage, CancellationToken, Task<bool>>? isNotFound = null)
    {
        var client = httpClients.CreateClient(HttpClientName);
        using var request = new HttpRequestMessage(method, path) { Content = content };
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            throw Unavailable(what, e);
        }
        if (response.IsSuccessStatusCode) return response;
        var status = (int)response.StatusCode;
        if (isNotFound is not null && await isNotFound(response, ct))
        {
            response.Dispose();
            return new HttpResponseMessage(HttpStatusCode.NotFound);
        }
        response.Dispose();
        var hint = status is 401 or 403 ? " (check the macaroon and its permissions)" : "";
        throw new PaymentProviderUnavailableException(LndPaymentProvider.ProviderName,
            string.Create(CultureInfo.InvariantCulture, $"{what} answered HTTP {status}{hint}."));
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, string what, CancellationToken ct) where T : class
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(LndJson.Options, ct)
                   ?? throw new JsonException("empty body");
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            throw new PaymentProviderUnavailableException(LndPaymentProvider.ProviderName, $"{what} returned an unreadable answer ({e.GetType().Name}).", e);
        }
    }

    private static PaymentProviderUnavailableException Unavailable(string what, Exception e) =>
        new(LndPaymentProvider.ProviderName, $"{what} failed ({e.GetType().Name}).", e);
}
