using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NBitcoin;

namespace Satsub.Tests.Payments.Providers.BtcPay;

/// <summary>One request the fake received, and what it answered.</summary>
public sealed record RecordedExchange(
    string Method,
    string PathAndQuery,
    IReadOnlyDictionary<string, string> Headers,
    byte[] Body,
    int Status,
    string? ResponseContentType,
    byte[] ResponseBody);

/// <summary>
/// A webhook delivery exactly as BTCPay would send it: the raw body bytes and the headers (with <c>BTCPay-Sig</c>).
/// Post it anywhere with <see cref="FakeBtcPayServer.SendWebhookAsync"/> or by hand.
/// </summary>
public sealed record WebhookDelivery(string Type, string DeliveryId, string OriginalDeliveryId, byte[] Body, IReadOnlyDictionary<string, string> Headers)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A BTCPay Server on the loopback that speaks the part of the Greenfield API Satsub uses — create an invoice in a
/// store, read it, read its payment methods — with answers shaped like BTCPay 2.4's (a test checks them against its
/// OpenAPI document), and that signs webhooks as BTCPay does. Every request is recorded with its answer.
/// Tests drive the invoices' lives with <see cref="Pay"/>, <see cref="SetStatus"/> and <see cref="FailNext"/>.
/// </summary>
public sealed class FakeBtcPayServer : IAsyncDisposable
{
    public const string DefaultApiKey = "fake-greenfield-api-key-0123456789abcdef";
    public const string DefaultStoreId = "9CiNzKoANXxmk5ayZngSXrHTiVvvgCrwrpFQd4m2K776";
    public const string DefaultWebhookSecret = "fake-webhook-secret-Zx8Qv2";

    private const decimal SatsPerBtc = 100_000_000m;
    private readonly WebApplication app;
    private readonly ConcurrentQueue<RecordedExchange> exchanges = new();
    private readonly ConcurrentDictionary<string, FakeInvoice> invoices = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(int Status, string? Body, TimeSpan Delay)> faults = new();
    private readonly object gate = new();

    private FakeBtcPayServer(WebApplication app, Network network)
    {
        this.app = app;
        Network = network;
    }

    public Network Network { get; }
    public string ApiKey { get; set; } = DefaultApiKey;
    public string StoreId { get; set; } = DefaultStoreId;
    public string WebhookSecret { get; set; } = DefaultWebhookSecret;
    public string WebhookId { get; } = NewId();

    /// <summary>Invoice currency per BTC for fiat invoices (BTCPay's rate for the pair).</summary>
    public Dictionary<string, decimal> Rates { get; } = new(StringComparer.OrdinalIgnoreCase) { ["USD"] = 64392.23m, ["EUR"] = 59001.17m };

    /// <summary>The network fee the store adds to on-chain invoices (BTCPay's <c>paymentMethodFee</c>), in BTC.</summary>
    public decimal OnChainNetworkFee { get; set; }

    /// <summary>Payment methods the store has enabled; an invoice gets those it asks for that are enabled.</summary>
    public HashSet<string> EnabledMethods { get; } = ["BTC-LN", "BTC-CHAIN"];

    /// <summary>The network of the addresses and BOLT11 invoices it hands out, when it must differ from <see cref="Network"/>.</summary>
    public Network? DestinationNetwork { get; set; }

    /// <summary>A destination to hand out instead of a generated one (to test what Satsub does with odd ones).</summary>
    public string? FixedDestination { get; set; }

    /// <summary>Whether payment methods carry a <c>paymentLink</c> (BTCPay's is nullable).</summary>
    public bool PaymentLinks { get; set; } = true;

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<RecordedExchange> Exchanges => exchanges.ToArray();

    public IReadOnlyDictionary<string, FakeInvoice> Invoices => invoices;

    public static async Task<FakeBtcPayServer> StartAsync(Network? network = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var fake = new FakeBtcPayServer(app, network ?? Network.RegTest);
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        fake.Url = new Uri(app.Urls.Single() + "/");
        return fake;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    // ---------------------------------------------------------------- driving invoices

    /// <summary>The next request is answered with <paramref name="status"/> (and a body), after <paramref name="delay"/>.</summary>
    public void FailNext(HttpStatusCode status, string? body = null, TimeSpan delay = default) => faults.Enqueue(((int)status, body, delay));

    /// <summary>The next request waits <paramref name="delay"/> before it is answered normally.</summary>
    public void DelayNext(TimeSpan delay) => faults.Enqueue((0, null, delay));

    public FakeInvoice Invoice(string id) => invoices[id];

    /// <summary>A payment of <paramref name="btc"/> to the invoice through <paramref name="methodId"/>.</summary>
    public void Pay(string invoiceId, decimal btc, string methodId = "BTC-LN", string paymentStatus = "Settled")
    {
        lock (gate)
        {
            var invoice = invoices[invoiceId];
            var method = invoice.Methods.Single(m => m.PaymentMethodId == methodId);
            method.Payments.Add(new FakePayment(NewId(), DateTimeOffset.UtcNow, btc, paymentStatus, method.Destination));
        }
    }

    public void SetStatus(string invoiceId, string status, string additionalStatus = "None")
    {
        lock (gate)
        {
            var invoice = invoices[invoiceId];
            invoice.Status = status;
            invoice.AdditionalStatus = additionalStatus;
        }
    }

    // ---------------------------------------------------------------- webhooks

    /// <summary>
    /// The delivery BTCPay would post for event <paramref name="type"/> about an invoice: the body (BTCPay's field order,
    /// indented as Newtonsoft writes it) and its <c>BTCPay-Sig</c>. <paramref name="extra"/> adds or overrides fields.
    /// </summary>
    public WebhookDelivery CreateWebhook(string type, string invoiceId, Action<JsonObject>? extra = null)
    {
        var deliveryId = NewId();
        var body = new JsonObject
        {
            ["deliveryId"] = deliveryId,
            ["webhookId"] = WebhookId,
            ["originalDeliveryId"] = deliveryId,
            ["isRedelivery"] = false,
            ["type"] = type,
            ["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["storeId"] = StoreId,
            ["invoiceId"] = invoiceId,
            ["metadata"] = invoices.TryGetValue(invoiceId, out var invoice) ? invoice.Metadata.DeepClone() : new JsonObject(),
        };
        AddEventFields(type, invoice, body);
        extra?.Invoke(body);
        return Sign(type, deliveryId, (string?)body["originalDeliveryId"] ?? deliveryId, body);
    }

    /// <summary>BTCPay's "redeliver": a new delivery id, the same original delivery id, <c>isRedelivery</c> true.</summary>
    public WebhookDelivery Redeliver(WebhookDelivery original)
    {
        var body = JsonNode.Parse(original.Body)!.AsObject();
        var deliveryId = NewId();
        body["deliveryId"] = deliveryId;
        body["isRedelivery"] = true;
        body["timestamp"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return Sign(original.Type, deliveryId, original.OriginalDeliveryId, body);
    }

    /// <summary>The signature BTCPay puts in <c>BTCPay-Sig</c> for these bytes: <c>sha256=</c> and the lowercase hex HMAC.</summary>
    public static string Signature(byte[] body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>Posts a delivery as BTCPay does: the exact bytes, <c>Content-Type: application/json</c> and the signature.</summary>
    public static async Task<HttpResponseMessage> SendWebhookAsync(HttpClient client, Uri endpoint, WebhookDelivery delivery, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(delivery.Body) };
        foreach (var (name, value) in delivery.Headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
                request.Content.Headers.TryAddWithoutValidation(name, value);
        }
        return await client.SendAsync(request, ct);
    }

    private WebhookDelivery Sign(string type, string deliveryId, string originalDeliveryId, JsonObject body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["BTCPay-Sig"] = Signature(bytes, WebhookSecret),
            ["Content-Type"] = "application/json; charset=utf-8",
            ["User-Agent"] = "BTCPayServer",
        };
        return new WebhookDelivery(type, deliveryId, originalDeliveryId, bytes, headers);
    }

    private void AddEventFields(string type, FakeInvoice? invoice, JsonObject body)
    {
        var paid = invoice?.TotalPaid ?? 0m;
        var overPaid = invoice is not null && paid > invoice.Methods[0].Amount;
        switch (type)
        {
            case "InvoiceSettled":
                body["manuallyMarked"] = invoice?.AdditionalStatus == "Marked";
                body["overPaid"] = overPaid;
                break;
            case "InvoiceProcessing":
                body["overPaid"] = overPaid;
                break;
            case "InvoiceExpired":
                body["partiallyPaid"] = paid > 0;
                break;
            case "InvoiceInvalid":
                body["manuallyMarked"] = invoice?.AdditionalStatus == "Marked";
                break;
            case "InvoiceReceivedPayment" or "InvoicePaymentSettled":
                var method = invoice?.Methods.FirstOrDefault(m => m.Payments.Count > 0) ?? invoice?.Methods.FirstOrDefault();
                var payment = method?.Payments.LastOrDefault();
                body["afterExpiration"] = invoice?.Status == "Expired";
                body["paymentMethodId"] = method?.PaymentMethodId ?? "BTC-LN";
                body["payment"] = payment is null ? null : PaymentJson(payment);
                break;
        }
    }

    // ---------------------------------------------------------------- the HTTP side

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, context.RequestAborted);
        var body = buffer.ToArray();
        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var pathAndQuery = request.Path.Value + request.QueryString.Value;

        int status;
        string? responseBody;
        if (faults.TryDequeue(out var fault))
        {
            if (fault.Delay > TimeSpan.Zero)
            {
                try { await Task.Delay(fault.Delay, context.RequestAborted); }
                catch (OperationCanceledException) { return; }
            }
            (status, responseBody) = fault.Status == 0 ? Route(request.Method, request.Path.Value ?? "", headers, body) : (fault.Status, fault.Body);
        }
        else
        {
            (status, responseBody) = Route(request.Method, request.Path.Value ?? "", headers, body);
        }

        var responseBytes = responseBody is null ? [] : Encoding.UTF8.GetBytes(responseBody);
        var contentType = responseBody is null ? null : "application/json; charset=utf-8";
        exchanges.Enqueue(new RecordedExchange(request.Method, pathAndQuery, headers, body, status, contentType, responseBytes));
        context.Response.StatusCode = status;
        if (contentType is not null)
        {
            context.Response.ContentType = contentType;
            await context.Response.Body.WriteAsync(responseBytes, context.RequestAborted);
        }
    }

    private (int Status, string? Body) Route(string method, string path, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        if (!headers.TryGetValue("Authorization", out var authorization) || authorization != "token " + ApiKey)
            return (401, Problem("unauthenticated", "Authentication is required for accessing this endpoint"));

        var parts = path.Trim('/').Split('/');
        lock (gate)
        {
            // POST /api/v1/stores/{storeId}/invoices
            if (method == "POST" && parts is ["api", "v1", "stores", var storeId, "invoices"])
                return storeId == StoreId ? CreateInvoice(body) : (403, Problem("unauthorized", "The API key has no permission on this store"));
            // GET /api/v1/invoices/{invoiceId}
            if (method == "GET" && parts is ["api", "v1", "invoices", var id])
                return invoices.TryGetValue(id, out var invoice) ? (200, InvoiceJson(invoice).ToJsonString()) : (404, Problem("invoice-not-found", "The invoice was not found"));
            // GET /api/v1/invoices/{invoiceId}/payment-methods
            if (method == "GET" && parts is ["api", "v1", "invoices", var pmId, "payment-methods"])
                return invoices.TryGetValue(pmId, out var invoice) ? (200, new JsonArray(invoice.Methods.Select(m => (JsonNode)MethodJson(invoice, m)).ToArray()).ToJsonString()) : (404, Problem("invoice-not-found", "The invoice was not found"));
        }
        return (404, null);
    }

    private (int, string?) CreateInvoice(byte[] body)
    {
        JsonObject request;
        try
        {
            request = JsonNode.Parse(body)!.AsObject();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return (400, Validation("", "The request body is not a JSON object"));
        }
        var amountText = request["amount"]?.GetValueKind() == JsonValueKind.String ? request["amount"]!.GetValue<string>() : request["amount"]?.ToJsonString();
        if (!decimal.TryParse(amountText, NumberStyles.Number, CultureInfo.InvariantCulture, out var amount) || amount <= 0)
            return (400, Validation("amount", "The amount should be more than 0."));
        var currency = ((string?)request["currency"] ?? "BTC").ToUpperInvariant();
        if (currency != "BTC" && !Rates.ContainsKey(currency))
            return (400, Validation("currency", $"No rate for BTC_{currency}"));
        var checkout = request["checkout"] as JsonObject;
        var asked = checkout?["paymentMethods"]?.AsArray().Select(n => (string)n!).ToList() ?? [.. EnabledMethods];
        var expirationMinutes = checkout?["expirationMinutes"]?.GetValue<decimal>() ?? 15m;

        var rate = currency == "BTC" ? 1m : Rates[currency];
        var now = DateTimeOffset.UtcNow;
        var network = DestinationNetwork ?? Network;
        var invoice = new FakeInvoice
        {
            Id = NewId(),
            StoreId = StoreId,
            Amount = amount,
            Currency = currency,
            CreatedTime = now,
            ExpirationTime = now.AddMinutes((double)expirationMinutes),
            Metadata = request["metadata"]?.DeepClone().AsObject() ?? [],
            SpeedPolicy = (string?)checkout?["speedPolicy"] ?? "MediumSpeed",
            Request = request,
        };
        foreach (var methodId in asked.Where(EnabledMethods.Contains))
        {
            var lightning = methodId == "BTC-LN";
            // BTCPay prices Lightning to the millisatoshi and on-chain to the satoshi, rounding up.
            var decimals = lightning ? 11 : 8;
            var btc = RoundUp(amount / rate, decimals);
            invoice.Methods.Add(new FakeMethod
            {
                PaymentMethodId = methodId,
                Rate = rate,
                Amount = btc,
                Fee = lightning ? 0m : OnChainNetworkFee,
                Destination = FixedDestination ?? (lightning ? FakeBolt11(network, btc) : new Key().PubKey.GetAddress(ScriptPubKeyType.Segwit, network).ToString()),
            });
        }
        invoices[invoice.Id] = invoice;
        return (200, InvoiceJson(invoice).ToJsonString());
    }

    private JsonObject InvoiceJson(FakeInvoice invoice) => new()
    {
        ["metadata"] = invoice.Metadata.DeepClone(),
        ["checkout"] = new JsonObject
        {
            ["speedPolicy"] = invoice.SpeedPolicy,
            ["paymentMethods"] = new JsonArray(invoice.Methods.Select(m => (JsonNode)m.PaymentMethodId).ToArray()),
            ["defaultPaymentMethod"] = null,
            ["lazyPaymentMethods"] = false,
            ["expirationMinutes"] = (int)Math.Round((invoice.ExpirationTime - invoice.CreatedTime).TotalMinutes),
            ["monitoringMinutes"] = 1440,
            ["paymentTolerance"] = 0.0,
            ["redirectURL"] = null,
            ["redirectAutomatically"] = false,
            ["defaultLanguage"] = null,
        },
        ["receipt"] = new JsonObject { ["enabled"] = true, ["showQR"] = null, ["showPayments"] = null },
        ["id"] = invoice.Id,
        ["storeId"] = invoice.StoreId,
        ["amount"] = Text(invoice.Amount),
        ["paidAmount"] = Text(invoice.TotalPaid * (invoice.Methods.FirstOrDefault()?.Rate ?? 1m)),
        ["currency"] = invoice.Currency,
        ["type"] = "Standard",
        ["checkoutLink"] = new Uri(Url, "i/" + invoice.Id).ToString(),
        ["createdTime"] = invoice.CreatedTime.ToUnixTimeSeconds(),
        ["expirationTime"] = invoice.ExpirationTime.ToUnixTimeSeconds(),
        ["monitoringExpiration"] = invoice.ExpirationTime.AddDays(1).ToUnixTimeSeconds(),
        ["status"] = invoice.Status,
        ["additionalStatus"] = invoice.AdditionalStatus,
        ["availableStatusesForManualMarking"] = new JsonArray(invoice.Status is "Settled" or "Invalid" ? [] : (JsonNode[])["Settled", "Invalid"]),
        ["archived"] = false,
    };

    private JsonObject MethodJson(FakeInvoice invoice, FakeMethod method)
    {
        var totalPaid = invoice.TotalPaid;
        var lightning = method.PaymentMethodId == "BTC-LN";
        var due = method.Amount + method.Fee - totalPaid;
        return new JsonObject
        {
            ["paymentMethodId"] = method.PaymentMethodId,
            ["currency"] = "BTC",
            ["destination"] = method.Destination,
            ["paymentLink"] = !PaymentLinks ? null
                : lightning ? "lightning:" + method.Destination.ToUpperInvariant()
                : $"bitcoin:{method.Destination}?amount={Text(Math.Max(due, 0m))}",
            ["rate"] = Text(method.Rate),
            ["paymentMethodPaid"] = Text(method.Payments.Sum(p => p.Value)),
            ["totalPaid"] = Text(totalPaid),
            ["due"] = Text(due),
            ["amount"] = Text(method.Amount),
            ["paymentMethodFee"] = Text(method.Fee),
            ["payments"] = new JsonArray(method.Payments.Select(p => (JsonNode)PaymentJson(p)).ToArray()),
            ["activated"] = true,
            ["additionalData"] = lightning
                ? new JsonObject { ["providedComment"] = null, ["consumedLightningAddress"] = null }
                : new JsonObject { ["keyPath"] = "0/" + invoice.Methods.IndexOf(method), ["payjoinEnabled"] = false, ["recommendedFeeRate"] = "1.05", ["paymentMethodFeeRate"] = "1" },
        };
    }

    private static JsonObject PaymentJson(FakePayment p) => new()
    {
        ["id"] = p.Id,
        ["receivedDate"] = p.ReceivedDate.ToUnixTimeSeconds(),
        ["value"] = Text(p.Value),
        ["fee"] = "0",
        ["status"] = p.Status,
        ["destination"] = p.Destination,
    };

    private static string Problem(string code, string message) => new JsonObject { ["code"] = code, ["message"] = message }.ToJsonString();

    private static string Validation(string path, string message) =>
        new JsonArray(new JsonObject { ["path"] = path, ["message"] = message }).ToJsonString();

    /// <summary>BTCPay writes decimals as invariant strings without trailing zeros.</summary>
    private static string Text(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);

    private static decimal RoundUp(decimal value, int decimals)
    {
        var scale = (decimal)Math.Pow(10, decimals);
        return decimal.Ceiling(value * scale) / scale;
    }

    private static string NewId()
    {
        const string alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        return string.Create(22, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
        });
    }

    /// <summary>
    /// A string shaped like a BOLT11 invoice for the network and amount (<c>lnbcrt10u1p…</c>): the right human-readable
    /// part and bech32 characters, not a decodable payment request.
    /// </summary>
    private static string FakeBolt11(Network network, decimal btc)
    {
        var prefix = network.ChainName == ChainName.Mainnet ? "bc" : network.ChainName == ChainName.Regtest ? "bcrt" : "tb";
        var pico = checked((long)(btc * 1_000_000_000_000m));
        var amount = pico % 1000 == 0 ? (pico / 1000).ToString(CultureInfo.InvariantCulture) + "n" : pico.ToString(CultureInfo.InvariantCulture) + "p";
        const string bech32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        var data = string.Create(200, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = bech32[RandomNumberGenerator.GetInt32(bech32.Length)];
        });
        return $"ln{prefix}{amount}1p{data}";
    }
}

public sealed class FakeInvoice
{
    public required string Id { get; init; }
    public required string StoreId { get; set; }
    public required decimal Amount { get; init; }
    public required string Currency { get; init; }
    public required DateTimeOffset CreatedTime { get; init; }
    public required DateTimeOffset ExpirationTime { get; init; }
    public required JsonObject Metadata { get; init; }
    public required string SpeedPolicy { get; init; }
    /// <summary>The create request as it arrived.</summary>
    public required JsonObject Request { get; init; }
    public string Status { get; set; } = "New";
    public string AdditionalStatus { get; set; } = "None";
    public List<FakeMethod> Methods { get; } = [];

    /// <summary>Every accounted payment, in BTC.</summary>
    public decimal TotalPaid => Methods.SelectMany(m => m.Payments).Where(p => p.Status != "Invalid").Sum(p => p.Value);
}

public sealed class FakeMethod
{
    public required string PaymentMethodId { get; init; }
    public required decimal Rate { get; init; }
    public required decimal Amount { get; init; }
    public required decimal Fee { get; init; }
    public required string Destination { get; init; }
    public List<FakePayment> Payments { get; } = [];
}

public sealed record FakePayment(string Id, DateTimeOffset ReceivedDate, decimal Value, string Status, string Destination);
