using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Polly.Timeout;

namespace Satsub.Payouts.Providers.BtcPay;

/// <summary><c>Payouts:BtcPay</c>: the BTCPay Server store whose wallet pays affiliates.</summary>
public sealed class PayoutBtcPayOptions
{
    /// <summary>The server's address, e.g. https://btcpay.example.com.</summary>
    public string? Url { get; set; }

    /// <summary>A Greenfield API key with <c>btcpay.store.cancreatepullpayments</c> and <c>btcpay.store.canmanagepullpayments</c> (or <c>canmanagepayouts</c>) on the store.</summary>
    public string? ApiKey { get; set; }

    public string? StoreId { get; set; }

    /// <summary>Per-request time-out.</summary>
    public int TimeoutSeconds { get; set; } = 15;

    /// <summary>The payout method for on-chain destinations (BTCPay 2.x: <c>BTC-CHAIN</c>).</summary>
    public string OnchainPayoutMethodId { get; set; } = "BTC-CHAIN";

    /// <summary>The payout method for Lightning Addresses and BOLT11 invoices (BTCPay 2.x: <c>BTC-LN</c>).</summary>
    public string LightningPayoutMethodId { get; set; } = "BTC-LN";
}

/// <summary>
/// Pays payouts from a BTCPay Server store through Greenfield's store payouts (the pull-payment API's store-initiated
/// payout): <c>POST /api/v1/stores/{store}/payouts</c> with <c>approved: true</c> and Satsub's payout id in
/// <c>metadata</c>, approval by <c>POST /api/v1/stores/{store}/payouts/{id}</c> if BTCPay left it awaiting approval, and
/// its state read back — <c>AwaitingApproval</c>, <c>AwaitingPayment</c> and <c>InProgress</c> are in flight, <c>Completed</c> is
/// sent, <c>Cancelled</c> is failed. BTCPay's payout processors send on their own schedule, so a payout usually stays in
/// flight after <see cref="SendAsync"/> and is settled by reconciliation.
/// Crash-safe: the payout is found again by its metadata (<see cref="LookupAsync"/> lists the store's payouts, cancelled
/// included) before anything is created, and the creating POST is never retried by the HTTP client, so one Satsub payout
/// is at most one BTCPay payout. BTCPay's wallet pays the network fee; it does not report it, so the fee is recorded as 0.
/// </summary>
public sealed class BtcPayPayoutProvider(IHttpClientFactory httpClients, IOptions<PayoutOptions> options, ILogger<BtcPayPayoutProvider> logger) : IPayoutProvider
{
    public const string ProviderName = "btcpay";
    public const string HttpClientName = "btcpay-payouts";
    internal const string MetadataKey = "satsubPayoutId";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Name => ProviderName;

    private PayoutBtcPayOptions Settings => options.Value.BtcPay;

    public async Task<PayoutAttempt> SendAsync(Payout payout, CancellationToken ct)
    {
        // A payout claimed again after a crash may already exist in BTCPay: never create a second one.
        var existing = await FindAsync(payout, ct);
        if (existing is null)
        {
            var lightning = payout.DestinationType != PayoutDestination.TypeNameOf(PayoutDestinationKind.Onchain);
            var body = new JsonObject
            {
                ["destination"] = payout.Invoice ?? payout.Destination,
                ["amount"] = Btc(payout.AmountSats),
                ["payoutMethodId"] = lightning ? Settings.LightningPayoutMethodId : Settings.OnchainPayoutMethodId,
                ["approved"] = true,
                ["metadata"] = new JsonObject { [MetadataKey] = payout.Id.ToString("D"), ["source"] = "satsub" },
            };
            using var response = await SendRequestAsync(HttpMethod.Post, $"api/v1/stores/{Store}/payouts", body, ct);
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity)
            {
                // BTCPay refused the payout itself (duplicate-destination, overdraft, amount-too-low, a bad destination…): nothing was created.
                var reason = await ErrorAsync(response, ct);
                return PayoutAttempt.Failed("BTCPay refused the payout: " + reason);
            }
            existing = await ReadAsync<PayoutData>(response, "creating a payout", ct);
        }
        if (existing.State == "AwaitingApproval")
            existing = await ApproveAsync(existing, ct) ?? existing;
        return ToAttempt(existing, payout);
    }

    public async Task<PayoutAttempt?> LookupAsync(Payout payout, CancellationToken ct)
    {
        var found = await FindAsync(payout, ct);
        if (found is null) return null;
        if (found.State == "AwaitingApproval") found = await ApproveAsync(found, ct) ?? found;
        return ToAttempt(found, payout);
    }

    private string Store => Uri.EscapeDataString(Settings.StoreId ?? "");

    /// <summary>The BTCPay payout made for this Satsub payout, by its metadata; null when there is none.</summary>
    private async Task<PayoutData?> FindAsync(Payout payout, CancellationToken ct)
    {
        using var response = await SendRequestAsync(HttpMethod.Get, $"api/v1/stores/{Store}/payouts?includeCancelled=true", null, ct);
        var all = await ReadAsync<List<PayoutData>>(response, "listing the store's payouts", ct);
        var id = payout.Id.ToString("D");
        var mine = all.Where(p => p.Metadata?[MetadataKey]?.GetValueKind() == JsonValueKind.String && p.Metadata[MetadataKey]!.GetValue<string>() == id).ToList();
        if (mine.Count > 1)
            logger.LogError("BTCPay holds {Count} payouts for Satsub payout {PayoutId}; following the first", mine.Count, payout.Id);
        return mine.FirstOrDefault();
    }

    private async Task<PayoutData?> ApproveAsync(PayoutData data, CancellationToken ct)
    {
        using var response = await SendRequestAsync(HttpMethod.Post, $"api/v1/stores/{Store}/payouts/{Uri.EscapeDataString(data.Id ?? "")}",
            new JsonObject { ["revision"] = data.Revision }, ct);
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            // invalid-state (approved meanwhile) or old-revision: the next lookup reads the current state.
            logger.LogWarning("BTCPay did not approve payout {BtcPayPayoutId}: {Reason}", data.Id, await ErrorAsync(response, ct));
            return null;
        }
        return await ReadAsync<PayoutData>(response, "approving a payout", ct);
    }

    private PayoutAttempt ToAttempt(PayoutData data, Payout payout)
    {
        switch (data.State)
        {
            case "Completed":
                var proof = data.PaymentProof;
                var txid = Hex64(proof, "transactionId") ?? (payout.DestinationType == PayoutDestination.TypeNameOf(PayoutDestinationKind.Onchain) ? Hex64(proof, "id") : null);
                var hash = Hex64(proof, "paymentHash") ?? payout.PaymentHash;
                return PayoutAttempt.Sent(payout.AmountSats, 0, paymentHash: hash, txid: txid);
            case "Cancelled":
                return PayoutAttempt.Failed($"BTCPay payout {data.Id} was cancelled.");
            default:
                return PayoutAttempt.InFlight(payout.PaymentHash);
        }
    }

    private static string? Hex64(JsonObject? proof, string name) =>
        proof?[name] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length == 64 && s.All(Uri.IsHexDigit) ? s.ToLowerInvariant() : null;

    internal static string Btc(long sats) => (sats / 100_000_000m).ToString("0.00000000", CultureInfo.InvariantCulture);

    private async Task<HttpResponseMessage> SendRequestAsync(HttpMethod method, string path, JsonObject? body, CancellationToken ct)
    {
        var s = Settings;
        var baseUri = new Uri(s.Url!.EndsWith('/') ? s.Url : s.Url + "/", UriKind.Absolute);
        using var request = new HttpRequestMessage(method, new Uri(baseUri, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("token", s.ApiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null) request.Content = JsonContent.Create(body, options: Json);
        var client = httpClients.CreateClient(HttpClientName);
        try
        {
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
            if (response.IsSuccessStatusCode || response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity) return response;
            var status = (int)response.StatusCode;
            response.Dispose();
            throw new BtcPayPayoutException(response.StatusCode switch
            {
                HttpStatusCode.Unauthorized => "BTCPay answered 401: check Payouts:BtcPay:ApiKey.",
                HttpStatusCode.Forbidden => "BTCPay answered 403: the API key needs btcpay.store.cancreatepullpayments and btcpay.store.canmanagepullpayments on Payouts:BtcPay:StoreId.",
                HttpStatusCode.NotFound => "BTCPay answered 404: no such store or payout.",
                _ => $"BTCPay answered {status}.",
            });
        }
        catch (Exception e) when (e is TimeoutRejectedException or HttpRequestException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // No answer: the payout may or may not exist now. The processor keeps it in flight and reconciles by metadata.
            throw new BtcPayPayoutException($"BTCPay did not answer ({e.GetType().Name}).", e);
        }
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, string what, CancellationToken ct) where T : class
    {
        if (!response.IsSuccessStatusCode) throw new BtcPayPayoutException($"{what}: BTCPay answered {(int)response.StatusCode}.");
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(Json, ct) ?? throw new BtcPayPayoutException($"{what}: BTCPay answered with an empty body.");
        }
        catch (JsonException e)
        {
            throw new BtcPayPayoutException($"{what}: BTCPay's answer is not the JSON its API describes.", e);
        }
    }

    /// <summary>BTCPay's error code and message (never the raw body).</summary>
    private static async Task<string> ErrorAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var node = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct));
            var first = node is JsonArray { Count: > 0 } array ? array[0] : node;
            var code = first?["code"]?.GetValueKind() == JsonValueKind.String ? first["code"]!.GetValue<string>() : first?["path"]?.ToString();
            var message = first?["message"]?.GetValueKind() == JsonValueKind.String ? first["message"]!.GetValue<string>() : null;
            var text = code is null ? message ?? $"HTTP {(int)response.StatusCode}" : $"{code}: {message}";
            return text.Length <= 300 ? text : text[..300];
        }
        catch (JsonException)
        {
            return $"HTTP {(int)response.StatusCode}";
        }
    }

    internal sealed class PayoutData
    {
        public string? Id { get; set; }
        public int Revision { get; set; }
        public string? State { get; set; }
        public string? Destination { get; set; }
        public JsonObject? PaymentProof { get; set; }
        public JsonObject? Metadata { get; set; }
    }
}

/// <summary>BTCPay could not be reached or answered unexpectedly: nothing is known, so the payout stays in flight.</summary>
public sealed class BtcPayPayoutException(string message, Exception? inner = null) : Exception(message, inner);
