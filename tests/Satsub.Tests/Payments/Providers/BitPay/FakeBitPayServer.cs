using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NBitcoin;

namespace Satsub.Tests.Payments.Providers.BitPay;

/// <summary>
/// A local stand-in for BitPay's REST API v2 invoices resource with the merchant facade: it refuses any request
/// without <c>X-Accept-Version: 2.0.0</c>, a JSON content type, the paired identity, or an <c>x-signature</c> that
/// verifies (checked here with .NET's own ECDSA over secp256k1, not with the client's code) over the full URL
/// followed by the body. It keeps invoices, which the test then moves through BitPay's statuses.
/// </summary>
public sealed class FakeBitPayServer : IAsyncDisposable
{
    public const string Token = "MqA2wX15qHCbG7FBtJZRAxQunrRjAvGBRVJedsiTnZY";

    /// <summary>USD per BTC for fiat invoices.</summary>
    public const decimal UsdRate = 50_000m;

    /// <summary>The network fee BitPay adds to the BTC subtotal, in sats.</summary>
    public const long NetworkFeeSats = 1_100;

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, JsonObject> invoices = new();
    private readonly string pairedIdentity;

    public sealed record Recorded(string Method, string PathAndQuery, string FullUrl, IReadOnlyDictionary<string, string> Headers, string Body);

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    /// <summary>Answer every request with HTTP 500.</summary>
    public bool Fail { get; set; }

    /// <summary>Answer HTTP 200 with BitPay's in-body error shape.</summary>
    public bool FailInBody { get; set; }

    /// <summary>Wait this long before answering.</summary>
    public TimeSpan Delay { get; set; }

    public string BaseUrl { get; private set; } = "";

    private FakeBitPayServer(WebApplication app, string pairedIdentity)
    {
        this.app = app;
        this.pairedIdentity = pairedIdentity;
    }

    public static async Task<FakeBitPayServer> StartAsync(string pairedIdentity)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeBitPayServer(app, pairedIdentity);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.BaseUrl = app.Urls.First();
        return server;
    }

    /// <summary>Moves an invoice to a status, as BitPay would when the buyer pays (or does not).</summary>
    public void Set(string id, string status, string? exceptionStatus = null, long? amountPaid = null)
    {
        var invoice = invoices[id];
        invoice["status"] = status;
        invoice["exceptionStatus"] = exceptionStatus is null ? JsonValue.Create(false) : JsonValue.Create(exceptionStatus);
        if (amountPaid is { } paid)
        {
            invoice["amountPaid"] = paid;
            invoice["transactionCurrency"] = "BTC";
        }
    }

    public JsonObject Invoice(string id) => invoices[id];

    public int InvoiceCount => invoices.Count;

    private async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
            body = await reader.ReadToEndAsync();
        var fullUrl = $"{request.Scheme}://{request.Host}{request.Path}{request.QueryString}";
        Requests.Enqueue(new Recorded(request.Method, $"{request.Path}{request.QueryString}", fullUrl,
            request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body));

        if (Delay > TimeSpan.Zero) await Task.Delay(Delay);
        if (Fail)
        {
            http.Response.StatusCode = 500;
            await http.Response.WriteAsync("Internal Server Error");
            return;
        }
        if (FailInBody)
        {
            await Error(http, 200, "Invoice creation is temporarily unavailable");
            return;
        }

        if (request.Headers["X-Accept-Version"] != "2.0.0" || !(request.ContentType ?? "").StartsWith("application/json", StringComparison.Ordinal))
        {
            await Error(http, 400, "Missing X-Accept-Version or content type");
            return;
        }
        var identity = request.Headers["x-identity"].ToString();
        if (identity != pairedIdentity || !VerifySignature(identity, request.Headers["x-signature"].ToString(), fullUrl + body))
        {
            await Error(http, 401, "Invalid signature");
            return;
        }

        if (request.Method == "POST" && request.Path == "/invoices")
            await CreateAsync(http, body);
        else if (request.Method == "GET" && request.Path.StartsWithSegments("/invoices", out var rest) && rest.Value!.Length > 1)
            await FetchAsync(http, rest.Value[1..], request.Query["token"].ToString());
        else
            await Error(http, 404, "Not found");
    }

    private async Task CreateAsync(HttpContext http, string body)
    {
        var json = JsonNode.Parse(body)!.AsObject();
        if ((string?)json["token"] != Token)
        {
            await Error(http, 401, "Unauthorized sender");
            return;
        }
        var price = (decimal)json["price"]!;
        var currency = (string)json["currency"]!;
        var subtotal = currency == "BTC"
            ? (long)(price * 100_000_000m)
            : (long)decimal.Ceiling(price / UsdRate * 100_000_000m);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var window = json["acceptanceWindow"] is { } w ? (long)w : 900_000;
        var id = NewId();
        var invoice = new JsonObject
        {
            ["url"] = $"{BaseUrl}/invoice?id={id}",
            ["status"] = "new",
            ["price"] = price,
            ["currency"] = currency,
            ["orderId"] = (string?)json["orderId"],
            ["itemDesc"] = (string?)json["itemDesc"],
            ["invoiceTime"] = now,
            ["expirationTime"] = now + window,
            ["currentTime"] = now,
            ["id"] = id,
            ["lowFeeDetected"] = false,
            ["amountPaid"] = 0,
            ["displayAmountPaid"] = "0",
            ["exceptionStatus"] = false,
            ["notificationURL"] = (string?)json["notificationURL"],
            ["paymentSubtotals"] = new JsonObject { ["BTC"] = subtotal, ["ETH"] = JsonNode.Parse("2535000000000000"), ["PAX"] = JsonNode.Parse("10000000000000000000") },
            ["paymentTotals"] = new JsonObject { ["BTC"] = subtotal + NetworkFeeSats, ["ETH"] = JsonNode.Parse("2535000000000000"), ["PAX"] = JsonNode.Parse("10000000000000000000") },
            ["paymentCodes"] = new JsonObject
            {
                ["BTC"] = new JsonObject { ["BIP72b"] = $"bitcoin:?r={BaseUrl}/i/{id}", ["BIP73"] = $"{BaseUrl}/i/{id}" },
            },
            ["token"] = "8nPJSGgi7omxcbGGZ4KsSgqdi6juypBe9pVpSURDeAwx4VDNAg",
        };
        invoices[id] = invoice;
        await Data(http, "merchant/invoice", invoice);
    }

    private async Task FetchAsync(HttpContext http, string id, string token)
    {
        if (token != Token)
        {
            await Error(http, 401, "Unauthorized sender");
            return;
        }
        if (!invoices.TryGetValue(id, out var invoice))
        {
            await Error(http, 404, "Object not found");
            return;
        }
        invoice["currentTime"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Data(http, "merchant/invoice", invoice);
    }

    private static Task Data(HttpContext http, string facade, JsonObject data)
    {
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(new JsonObject { ["facade"] = facade, ["data"] = data.DeepClone() }.ToJsonString());
    }

    private static Task Error(HttpContext http, int status, string message)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(new JsonObject { ["status"] = "error", ["code"] = 10000 + status, ["data"] = null, ["message"] = message }.ToJsonString());
    }

    private static string NewId()
    {
        const string alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
        return new string(RandomNumberGenerator.GetItems<char>(alphabet, 22));
    }

    /// <summary>
    /// BitPay's check, done with .NET's ECDSA (OpenSSL) rather than NBitcoin: the DER signature over SHA-256 of the
    /// UTF-8 message, under the secp256k1 public key given as <c>x-identity</c>.
    /// </summary>
    public static bool VerifySignature(string identityHex, string signatureHex, string message)
    {
        try
        {
            var point = new PubKey(identityHex).Decompress().ToBytes();
            using var ecdsa = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.CreateFromFriendlyName("secP256k1"),
                Q = new ECPoint { X = point[1..33], Y = point[33..65] },
            });
            return ecdsa.VerifyData(Encoding.UTF8.GetBytes(message), Convert.FromHexString(signatureHex),
                HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or CryptographicException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
