using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Satsub.Bench;

/// <summary>
/// The three Greenfield calls Satsub makes, served in-process like a BTCPay Server store would (paths and field
/// names of BTCPay's OpenAPI document, amounts as decimal strings): create an invoice with one BTC-LN payment
/// method, read it, read its payment methods. <see cref="MarkPaid"/> is the buyer paying: the invoice then reads
/// <c>Settled</c> with <c>totalPaid</c> equal to its amount, which is what a webhook tells Satsub to look at.
/// </summary>
internal sealed class BtcPayStandIn : IAsyncDisposable
{
    public const string ApiKey = "bench-greenfield-key";
    public const string StoreId = "benchstore";
    // The bech32 data alphabet: a BOLT11 string must not contain '1' after its separator.
    private const string Bech32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    private sealed record StoredInvoice(string Id, long Sats, string OrderId, long ExpirationTime)
    {
        public volatile bool Paid;
    }

    private readonly ConcurrentDictionary<string, StoredInvoice> _invoices = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _created = new();
    private int _next;
    private readonly string _run = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
    private WebApplication? _app;

    public string BaseUrl { get; private set; } = "";

    public long Requests;

    public IReadOnlyCollection<string> CreatedIds => _created;

    public void MarkPaid(string invoiceId) => _invoices[invoiceId].Paid = true;

    /// <summary>
    /// An invoice an earlier run created and paid on this database: BTCPay would still know it, and Satsub's
    /// reconciliation re-reads every invoice settled in the last day. Without this the stand-in answers 404 to each
    /// (retried, logged) — an artefact that competed with the measured reads when runs were repeated on one day.
    /// </summary>
    public void RememberPaid(string invoiceId, long sats, string orderId) =>
        _invoices.TryAdd(invoiceId, new StoredInvoice(invoiceId, sats, orderId, DateTimeOffset.UtcNow.ToUnixTimeSeconds()) { Paid = true });

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Use(async (http, next) =>
        {
            Interlocked.Increment(ref Requests);
            if (http.Request.Headers.Authorization.ToString() != "token " + ApiKey)
            {
                http.Response.StatusCode = 401;
                await http.Response.WriteAsJsonAsync(new { code = "unauthenticated", message = "Authentication is required for accessing this endpoint" });
                return;
            }
            await next(http);
        });
        app.MapPost("/api/v1/stores/{storeId}/invoices", CreateAsync);
        app.MapGet("/api/v1/invoices/{invoiceId}", (string invoiceId) =>
            _invoices.TryGetValue(invoiceId, out var invoice) ? Results.Json(InvoiceData(invoice)) : NotFound());
        app.MapGet("/api/v1/invoices/{invoiceId}/payment-methods", (string invoiceId) =>
            _invoices.TryGetValue(invoiceId, out var invoice) ? Results.Json(new[] { PaymentMethod(invoice) }) : NotFound());
        await app.StartAsync();
        _app = app;
        BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/";
    }

    private async Task<IResult> CreateAsync(string storeId, HttpRequest request)
    {
        if (storeId != StoreId) return NotFound();
        var body = await JsonNode.ParseAsync(request.Body);
        var currency = body?["currency"]?.GetValue<string>();
        var amount = body?["amount"]?.GetValue<string>();
        if (currency != "BTC" || !decimal.TryParse(amount, NumberStyles.Number, CultureInfo.InvariantCulture, out var btc) || btc <= 0)
            return Results.Json(new[] { new { path = "amount", message = "The bench stand-in prices in BTC only" } }, statusCode: 422);
        var n = Interlocked.Increment(ref _next);
        // Unique across runs on the same database (--skip-seed reuses it).
        var id = $"bench-{_run}-{n.ToString("D7", CultureInfo.InvariantCulture)}";
        var minutes = body?["checkout"]?["expirationMinutes"]?.GetValue<int>() ?? 15;
        var invoice = new StoredInvoice(id, (long)(btc * 100_000_000m), body?["metadata"]?["orderId"]?.GetValue<string>() ?? "",
            DateTimeOffset.UtcNow.AddMinutes(minutes).ToUnixTimeSeconds());
        _invoices[id] = invoice;
        _created.Enqueue(id);
        return Results.Json(InvoiceData(invoice));
    }

    private static IResult NotFound() => Results.Json(new { code = "invoice-not-found", message = "The invoice could not be found" }, statusCode: 404);

    private static string Btc(long sats) => (sats / 100_000_000m).ToString("0.########", CultureInfo.InvariantCulture);

    private object InvoiceData(StoredInvoice i) => new
    {
        id = i.Id,
        storeId = StoreId,
        amount = Btc(i.Sats),
        currency = "BTC",
        checkoutLink = BaseUrl + "i/" + i.Id,
        expirationTime = i.ExpirationTime,
        status = i.Paid ? "Settled" : "New",
        additionalStatus = "None",
        metadata = new { orderId = i.OrderId },
    };

    private static object PaymentMethod(StoredInvoice i)
    {
        var bolt11 = "lnbc1p" + string.Concat(i.Id.Select(c => Bech32[c % 32])) + "qqqsp5";
        return new
        {
            paymentMethodId = "BTC-LN",
            currency = "BTC",
            destination = bolt11,
            paymentLink = "lightning:" + bolt11,
            rate = "1",
            paymentMethodPaid = i.Paid ? Btc(i.Sats) : "0",
            totalPaid = i.Paid ? Btc(i.Sats) : "0",
            due = i.Paid ? "0" : Btc(i.Sats),
            amount = Btc(i.Sats),
            paymentMethodFee = "0",
            activated = true,
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }
}
