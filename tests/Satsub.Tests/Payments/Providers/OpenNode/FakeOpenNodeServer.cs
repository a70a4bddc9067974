using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Satsub.Tests.Payments.Providers.OpenNode;

/// <summary>
/// A local stand-in for OpenNode's API v1 charges: <c>POST /v1/charges</c> (answered 201 with <c>{"data": charge}</c>)
/// and <c>GET /v1/charge/{id}</c>, authenticated by the bare API key in <c>Authorization</c>. It keeps charges, which
/// the test moves through OpenNode's statuses, and builds the form-encoded webhooks OpenNode would post, signed with
/// <c>hashed_order</c> = hex HMAC-SHA256(key = API key, message = charge id), computed here with .NET's HMAC.
/// </summary>
public sealed class FakeOpenNodeServer : IAsyncDisposable
{
    public const string ApiKey = "6fa0ae9e-opennode-test-key";

    /// <summary>USD per BTC for fiat charges.</summary>
    public const decimal UsdRate = 40_000m;

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, JsonObject> charges = new();

    public sealed record Recorded(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body);

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    public bool Fail { get; set; }

    public TimeSpan Delay { get; set; }

    public string BaseUrl { get; private set; } = "";

    private FakeOpenNodeServer(WebApplication app) => this.app = app;

    public static async Task<FakeOpenNodeServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeOpenNodeServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.BaseUrl = app.Urls.First();
        return server;
    }

    public JsonObject Charge(string id) => charges[id];

    public int ChargeCount => charges.Count;

    /// <summary>Moves a charge to a status, as OpenNode would when the buyer pays (or does not).</summary>
    public void Set(string id, string status, long? missingSats = null)
    {
        var charge = charges[id];
        charge["status"] = status;
        if (missingSats is { } missing) charge["missing_amt"] = missing;
    }

    /// <summary>The documented webhook body (application/x-www-form-urlencoded) for a charge, signed with <paramref name="key"/>.</summary>
    public static string WebhookForm(string id, string status, string orderId, string key = ApiKey, string? hashedOrder = null)
    {
        hashedOrder ??= Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(id)));
        var fields = new (string, string)[]
        {
            ("id", id), ("callback_url", "https://satsub.example/api/v1/webhooks/opennode"), ("success_url", ""),
            ("status", status), ("order_id", orderId), ("description", "Basic plan, 30 days"), ("price", "25000"), ("fee", "0"),
            ("auto_settle", "0"), ("hashed_order", hashedOrder),
        };
        return string.Join("&", fields.Select(f => Uri.EscapeDataString(f.Item1) + "=" + Uri.EscapeDataString(f.Item2)));
    }

    private async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
            body = await reader.ReadToEndAsync();
        Requests.Enqueue(new Recorded(request.Method, request.Path.Value!,
            request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body));

        if (Delay > TimeSpan.Zero) await Task.Delay(Delay);
        if (Fail)
        {
            http.Response.StatusCode = 500;
            await http.Response.WriteAsync("Internal Server Error");
            return;
        }
        if (request.Headers.Authorization != ApiKey)
        {
            await Error(http, 401, "Unauthorized");
            return;
        }

        if (request.Method == "POST" && request.Path == "/v1/charges")
            await CreateAsync(http, body);
        else if (request.Method == "GET" && request.Path.StartsWithSegments("/v1/charge", out var rest) && rest.Value!.Length > 1
                 && charges.TryGetValue(rest.Value[1..], out var charge))
            await Data(http, 200, charge);
        else
            await Error(http, 404, "Not found");
    }

    private async Task CreateAsync(HttpContext http, string body)
    {
        if (!(http.Request.ContentType ?? "").StartsWith("application/json", StringComparison.Ordinal))
        {
            await Error(http, 400, "Content-Type must be application/json");
            return;
        }
        var json = JsonNode.Parse(body)!.AsObject();
        var currency = (string?)json["currency"];
        var amount = json["amount"]!.GetValueKind() == JsonValueKind.String
            ? decimal.Parse((string)json["amount"]!, CultureInfo.InvariantCulture)
            : (decimal)json["amount"]!;
        var ttl = json["ttl"] is { } t ? (int)t : 1440;
        if (ttl is < 10 or > 1440 || amount <= 0 || (currency is null && amount != decimal.Truncate(amount)))
        {
            await Error(http, 400, "Invalid charge");
            return;
        }
        // No currency: the amount is in satoshis (OpenNode's default).
        var sats = currency switch
        {
            null => (long)amount,
            "BTC" => (long)(amount * 100_000_000m),
            _ => (long)decimal.Ceiling(amount / UsdRate * 100_000_000m),
        };
        var id = Guid.NewGuid().ToString("D");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        const string address = "tb1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh";
        var payreq = "lntb" + sats.ToString(CultureInfo.InvariantCulture) + "n1pfakeinvoice" + id.Replace("-", "", StringComparison.Ordinal);
        var charge = new JsonObject
        {
            ["id"] = id,
            ["description"] = (string?)json["description"],
            ["desc_hash"] = false,
            ["created_at"] = created,
            ["status"] = "unpaid",
            ["amount"] = sats,
            ["callback_url"] = (string?)json["callback_url"],
            ["success_url"] = null,
            ["hosted_checkout_url"] = $"https://checkout.opennode.com/{id}",
            ["order_id"] = (string?)json["order_id"],
            ["currency"] = currency ?? "BTC",
            ["source_fiat_value"] = currency is null ? 0 : amount,
            ["fiat_value"] = currency is null ? 0 : amount,
            ["auto_settle"] = (bool?)json["auto_settle"] ?? false,
            ["notif_email"] = null,
            ["address"] = address,
            ["metadata"] = new JsonObject(),
            ["chain_invoice"] = new JsonObject { ["address"] = address },
            ["uri"] = $"bitcoin:{address}?amount={(sats / 100_000_000m).ToString(CultureInfo.InvariantCulture)}&label=&lightning={payreq}",
            ["ttl"] = ttl,
            ["lightning_invoice"] = new JsonObject { ["expires_at"] = created + ttl * 60, ["payreq"] = payreq },
        };
        charges[id] = charge;
        await Data(http, 201, charge);
    }

    private static Task Data(HttpContext http, int status, JsonObject data)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(new JsonObject { ["data"] = data.DeepClone() }.ToJsonString());
    }

    private static Task Error(HttpContext http, int status, string message)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(new JsonObject { ["success"] = false, ["message"] = message }.ToJsonString());
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
