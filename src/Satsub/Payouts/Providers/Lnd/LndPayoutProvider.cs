using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Satsub.Payments.Providers.Lnd;
using Satsub.Payouts.LightningAddress;

namespace Satsub.Payouts.Providers.Lnd;

/// <summary>
/// Pays Lightning payouts from an LND node through its REST router API (router.swagger.json):
/// <c>POST /v2/router/send</c> (SendPaymentV2, a stream of payment updates) with <c>fee_limit_sat</c>, and
/// <c>GET /v2/router/track/{payment_hash}</c> (TrackPaymentV2) to reconcile. A Lightning Address is first resolved to
/// a checked BOLT11 (<see cref="LnurlPayClient"/>) in <see cref="PrepareAsync"/>, whose result is stored before paying.
/// On-chain destinations are refused at request time: this provider pays Lightning only.
/// LND itself refuses to pay one payment hash twice, a second guard behind the payout's status.
/// </summary>
public sealed class LndPayoutProvider : IPayoutProvider, IDisposable
{
    public const string ProviderName = "lnd";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly IOptions<PayoutOptions> options;
    private readonly IServiceProvider services;
    private readonly Lazy<HttpClient> http;

    public LndPayoutProvider(IOptions<PayoutOptions> options, IServiceProvider services)
    {
        this.options = options;
        this.services = services;
        http = new Lazy<HttpClient>(CreateClient);
    }

    public string Name => ProviderName;

    private PayoutLndOptions Lnd => options.Value.Lnd;

    public async Task<PayoutPreparation?> PrepareAsync(Payout payout, CancellationToken ct)
    {
        if (payout.Invoice is not null) return null;
        if (payout.DestinationType != PayoutDestination.TypeNameOf(PayoutDestinationKind.LightningAddress))
            throw new Common.DomainException("destination_unsupported", "The lnd payout provider pays Lightning destinations only.", 422);
        var address = LightningAddress.LightningAddress.Parse(payout.Destination);
        // Under the affiliate fee policy the routing fee comes out of the payout: ask for the amount less the fee limit,
        // so amount sent plus fee never exceeds the payout; what the route did not cost goes back to the affiliate.
        var sats = options.Value.Fees == PayoutFeePolicy.Affiliate ? payout.AmountSats - Lnd.FeeLimitSats : payout.AmountSats;
        if (sats < 1)
            throw new Common.DomainException("below_minimum", "The payout does not cover the routing fee limit.", 422);
        var invoice = await services.GetRequiredService<LnurlPayClient>().GetInvoiceAsync(address, sats * 1000, ct);
        return new PayoutPreparation(invoice.Bolt11, invoice.PaymentHash);
    }

    public async Task<PayoutAttempt> SendAsync(Payout payout, CancellationToken ct)
    {
        if (payout.Invoice is null)
            return PayoutAttempt.Failed("No invoice to pay.");
        var body = new SendPaymentRequest(payout.Invoice, Lnd.FeeLimitSats, Lnd.TimeoutSeconds, NoInflightUpdates: true);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v2/router/send") { Content = JsonContent.Create(body, options: Json) };
        return await ReadStreamAsync(request, payout.PaymentHash, TimeSpan.FromSeconds(Lnd.TimeoutSeconds + 5), notFound: PayoutAttempt.InFlight(payout.PaymentHash), ct)
               ?? PayoutAttempt.InFlight(payout.PaymentHash);
    }

    public async Task<PayoutAttempt?> LookupAsync(Payout payout, CancellationToken ct)
    {
        if (payout.PaymentHash is null) return null; // never prepared, so never sent
        var hash = Convert.ToBase64String(Convert.FromHexString(payout.PaymentHash)).Replace('+', '-').Replace('/', '_');
        using var request = new HttpRequestMessage(HttpMethod.Get, "v2/router/track/" + Uri.EscapeDataString(hash));
        return await ReadStreamAsync(request, payout.PaymentHash, TimeSpan.FromSeconds(Math.Min(Lnd.TimeoutSeconds, 15)), notFound: null, ct);
    }

    public void Dispose()
    {
        if (http.IsValueCreated) http.Value.Dispose();
    }

    // Reads payment updates until a final one. A time-out, a transport failure or an unexpected error leaves the
    // payment in flight: only LND's own word (SUCCEEDED, FAILED, or "not initiated") decides.
    private async Task<PayoutAttempt?> ReadStreamAsync(HttpRequestMessage request, string? paymentHash, TimeSpan limit, PayoutAttempt? notFound, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(limit);
        try
        {
            using var response = await http.Value.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.StatusCode == HttpStatusCode.NotFound) return notFound;
            if (!response.IsSuccessStatusCode)
            {
                var status = await TryReadStatusAsync(response, timeout.Token);
                return status?.Code == 5 ? notFound : PayoutAttempt.InFlight(paymentHash);
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));
            PayoutAttempt? last = null;
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                var message = JsonSerializer.Deserialize<StreamMessage>(line, Json);
                if (message?.Error is { } error)
                    return error.Code == 5 ? notFound : PayoutAttempt.InFlight(paymentHash);
                if (message?.Result is not { } payment) continue;
                last = ToAttempt(payment, paymentHash);
                if (last.Outcome != PayoutAttemptOutcome.InFlight) return last;
            }
            return last ?? PayoutAttempt.InFlight(paymentHash);
        }
        catch (Exception e) when (!ct.IsCancellationRequested && e is OperationCanceledException or HttpRequestException or IOException or JsonException)
        {
            return PayoutAttempt.InFlight(paymentHash);
        }
    }

    private static PayoutAttempt ToAttempt(LndPayment payment, string? paymentHash)
    {
        var hash = string.IsNullOrEmpty(payment.PaymentHash) ? paymentHash : payment.PaymentHash.ToLowerInvariant();
        return payment.Status switch
        {
            "SUCCEEDED" => PayoutAttempt.Sent(
                payment.ValueSat > 0 ? payment.ValueSat : payment.ValueMsat / 1000,
                payment.FeeMsat > 0 ? (payment.FeeMsat + 999) / 1000 : payment.FeeSat,
                paymentHash: hash),
            "FAILED" => PayoutAttempt.Failed("LND: " + (payment.FailureReason ?? "FAILURE_REASON_ERROR"), hash),
            _ => PayoutAttempt.InFlight(hash),
        };
    }

    private static async Task<LndStatus?> TryReadStatusAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<LndStatus>(Json, ct);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or HttpRequestException)
        {
            return null;
        }
    }

    private HttpClient CreateClient()
    {
        var o = Lnd;
        var url = o.Url!.EndsWith('/') ? o.Url : o.Url + "/";
        var handler = LndTls.CreateHandler(new LndOptions { Url = o.Url, TlsCertThumbprint = o.TlsCertThumbprint, TimeoutSeconds = 10 });
        var macaroon = !string.IsNullOrWhiteSpace(o.MacaroonHex)
            ? o.MacaroonHex.Trim().ToLowerInvariant()
            : Convert.ToHexStringLower(File.ReadAllBytes(o.MacaroonPath!));
        // No logging handler anywhere on this client: the macaroon header must never reach a log.
        var client = new HttpClient(handler, disposeHandler: true) { BaseAddress = new Uri(url, UriKind.Absolute), Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.TryAddWithoutValidation(LndMacaroon.HeaderName, macaroon);
        return client;
    }

    private sealed record SendPaymentRequest(string PaymentRequest, long FeeLimitSat, int TimeoutSeconds, bool NoInflightUpdates);

    private sealed class StreamMessage
    {
        public LndPayment? Result { get; set; }
        public LndStatus? Error { get; set; }
    }

    private sealed class LndPayment
    {
        public string? PaymentHash { get; set; }
        public long ValueSat { get; set; }
        public long ValueMsat { get; set; }
        public long FeeSat { get; set; }
        public long FeeMsat { get; set; }
        public string? Status { get; set; }
        public string? FailureReason { get; set; }
    }

    private sealed class LndStatus
    {
        public int Code { get; set; }
        public string? Message { get; set; }
    }
}

