using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Satsub.Tests.Payments.Providers.Lnd;

/// <summary>
/// A small LND REST node for tests, following lightning.swagger.json: grpc-gateway JSON (int64 as strings, bytes
/// as standard base64), the <c>Grpc-Metadata-macaroon</c> header, LND's <c>{"code","message","details"}</c>
/// errors, and a real streaming <c>/v1/invoices/subscribe</c> (chunked, one JSON object per line). It keeps
/// invoices, records every request, and the test settles, accepts, cancels, drops streams or makes it fail.
/// Written from the swagger, independently of the production DTOs.
/// </summary>
public sealed class FakeLnd : IAsyncDisposable
{
    public const string Macaroon = "0201036c6e6402f801030a10b3bf6906c1937139ac0684ac4417c5d51201301a160a0761646472657373120472656164120577726974651a130a04696e666f120472656164120577726974651a170a08696e766f69636573120472656164120577726974651a21";

    private readonly object gate = new();
    private readonly List<Invoice> invoices = [];
    private readonly List<Subscriber> subscribers = [];
    private ulong nextSettleIndex;
    private WebApplication app = null!;

    public sealed record Recorded(string Method, string Path, IReadOnlyDictionary<string, string> Query, string? Body, string? Macaroon);

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    public Uri Url { get; private set; } = null!;

    /// <summary>The node's clock (creation_date, settle_date).</summary>
    public Func<DateTimeOffset> Clock { get; set; } = () => DateTimeOffset.UtcNow;

    /// <summary>Whether a subscription with settle_index=N first replays settlements above N, as LND does.</summary>
    public bool ReplayBacklog { get; set; } = true;

    /// <summary>The next N unary requests (not subscriptions) answer HTTP 500.</summary>
    public int FailNext;

    /// <summary>Subscriptions answer HTTP 500 while set.</summary>
    public bool RefuseSubscriptions { get; set; }

    /// <summary>Answer an unknown payment hash as LND did before 0.14 (HTTP 500, code 2) instead of NOT_FOUND (404).</summary>
    public bool LegacyNotFound { get; set; }

    /// <summary>Unary requests wait this long before answering.</summary>
    public TimeSpan ResponseDelay { get; set; }

    public int OpenSubscriptions { get { lock (gate) return subscribers.Count; } }

    public static async Task<FakeLnd> StartAsync(X509Certificate2? httpsCertificate = null)
    {
        var fake = new FakeLnd();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (httpsCertificate is null)
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        else
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(httpsCertificate)));
        fake.app = builder.Build();
        fake.Map(fake.app);
        await fake.app.StartAsync();
        fake.Url = new Uri(fake.app.Urls.First());
        return fake;
    }

    public async ValueTask DisposeAsync()
    {
        DropSubscriptions();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    // ---- test controls ----

    /// <summary>An invoice made on the node by someone else (not through the client).</summary>
    public string AddInvoice(long valueSats, long expirySeconds = 3600) => Create(valueSats * 1000, expirySeconds, "other").Hex;

    /// <summary>When set, the next settlement is recorded but its stream message is lost (a listing still shows it).</summary>
    public bool LoseNextStreamMessage { get; set; }

    public ulong Settle(string rHashHex, long? amountPaidSats = null) => Transition(rHashHex, invoice =>
    {
        invoice.State = "SETTLED";
        invoice.AmtPaidMsat = amountPaidSats is { } s ? s * 1000 : invoice.ValueMsat;
        invoice.SettleIndex = ++nextSettleIndex;
        invoice.SettleDate = Clock().ToUnixTimeSeconds();
    });

    public void Accept(string rHashHex) => Transition(rHashHex, invoice =>
    {
        invoice.State = "ACCEPTED";
        invoice.AmtPaidMsat = invoice.ValueMsat;
    });

    public void Cancel(string rHashHex) => Transition(rHashHex, invoice => invoice.State = "CANCELED");

    /// <summary>Breaks every open subscription mid-stream (the TCP connection is aborted).</summary>
    public void DropSubscriptions()
    {
        lock (gate)
            foreach (var s in subscribers) s.Drop.Cancel();
    }

    /// <summary>Sends a grpc-gateway stream error to every open subscription.</summary>
    public void SendStreamError(int code, string message)
    {
        var line = new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message, ["details"] = new JsonArray() } }.ToJsonString();
        lock (gate)
            foreach (var s in subscribers) s.Lines.Writer.TryWrite(line);
    }

    /// <summary>Sends a line that is not JSON to every open subscription.</summary>
    public void SendRawLine(string line)
    {
        lock (gate)
            foreach (var s in subscribers) s.Lines.Writer.TryWrite(line);
    }

    public async Task WaitForSubscriptionsAsync(int count, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (OpenSubscriptions < count)
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"expected {count} open subscriptions, have {OpenSubscriptions}");
            await Task.Delay(20);
        }
    }

    public IReadOnlyList<Recorded> RequestsTo(string path) => Requests.Where(r => r.Path == path).ToList();

    // ---- the node ----

    private sealed class Invoice
    {
        public required byte[] RHash { get; init; }
        public required byte[] PaymentAddr { get; init; }
        public required string PaymentRequest { get; init; }
        public required string Memo { get; init; }
        public long ValueMsat { get; init; }
        public long Expiry { get; init; }
        public long CreationDate { get; init; }
        public ulong AddIndex { get; init; }
        public string State { get; set; } = "OPEN";
        public ulong SettleIndex { get; set; }
        public long SettleDate { get; set; }
        public long AmtPaidMsat { get; set; }
        public string Hex => Convert.ToHexStringLower(RHash);

        public JsonObject ToJson() => new()
        {
            ["memo"] = Memo,
            ["r_preimage"] = Convert.ToBase64String(new byte[32]),
            ["r_hash"] = Convert.ToBase64String(RHash),
            ["value"] = Str(ValueMsat / 1000),
            ["value_msat"] = Str(ValueMsat),
            ["settled"] = State == "SETTLED",
            ["creation_date"] = Str(CreationDate),
            ["settle_date"] = Str(SettleDate),
            ["payment_request"] = PaymentRequest,
            ["description_hash"] = null,
            ["expiry"] = Str(Expiry),
            ["fallback_addr"] = "",
            ["cltv_expiry"] = "80",
            ["route_hints"] = new JsonArray(),
            ["private"] = false,
            ["add_index"] = Str(AddIndex),
            ["settle_index"] = Str(SettleIndex),
            ["amt_paid"] = Str(AmtPaidMsat),
            ["amt_paid_sat"] = Str(AmtPaidMsat / 1000),
            ["amt_paid_msat"] = Str(AmtPaidMsat),
            ["state"] = State,
            ["htlcs"] = new JsonArray(),
            ["features"] = new JsonObject(),
            ["is_keysend"] = false,
            ["payment_addr"] = Convert.ToBase64String(PaymentAddr),
            ["is_amp"] = false,
            ["amp_invoice_state"] = new JsonObject(),
        };
    }

    private sealed class Subscriber
    {
        public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>();
        public CancellationTokenSource Drop { get; } = new();
    }

    private static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Str(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private Invoice Create(long valueMsat, long expiry, string memo)
    {
        var preimage = RandomNumberGenerator.GetBytes(32);
        lock (gate)
        {
            var invoice = new Invoice
            {
                RHash = SHA256.HashData(preimage),
                PaymentAddr = RandomNumberGenerator.GetBytes(32),
                PaymentRequest = "lnbcrt" + Str(valueMsat / 1000) + "u1pfake" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)),
                Memo = memo,
                ValueMsat = valueMsat,
                Expiry = expiry,
                CreationDate = Clock().ToUnixTimeSeconds(),
                AddIndex = (ulong)invoices.Count + 1,
            };
            invoices.Add(invoice);
            Publish(invoice);
            return invoice;
        }
    }

    private ulong Transition(string rHashHex, Action<Invoice> change)
    {
        lock (gate)
        {
            var invoice = invoices.Single(i => i.Hex == rHashHex);
            change(invoice);
            if (LoseNextStreamMessage) LoseNextStreamMessage = false;
            else Publish(invoice);
            return invoice.SettleIndex;
        }
    }

    // Called under the gate, so a subscriber sees either the backlog or the live message, never both nor neither.
    private void Publish(Invoice invoice)
    {
        var line = new JsonObject { ["result"] = invoice.ToJson() }.ToJsonString();
        foreach (var s in subscribers) s.Lines.Writer.TryWrite(line);
    }

    private static IResult Error(int status, int code, string message) =>
        Results.Json(new JsonObject { ["code"] = code, ["message"] = message, ["details"] = new JsonArray() }, statusCode: status);

    private void Map(WebApplication web)
    {
        web.Use(async (context, next) =>
        {
            string? body = null;
            if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
            {
                using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
                body = await reader.ReadToEndAsync();
                context.Items["body"] = body;
            }
            var macaroon = context.Request.Headers["Grpc-Metadata-macaroon"].FirstOrDefault();
            Requests.Enqueue(new Recorded(context.Request.Method, context.Request.Path.Value ?? "",
                context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString()), body, macaroon));

            // LND's macaroon interceptor runs before anything else.
            if (macaroon is null)
            {
                await Error(401, 2, "expected 1 macaroon, got 0").ExecuteAsync(context);
                return;
            }
            if (!string.Equals(macaroon, Macaroon, StringComparison.OrdinalIgnoreCase))
            {
                await Error(403, 2, "verification failed: signature mismatch after caveat verification").ExecuteAsync(context);
                return;
            }
            var isStream = context.Request.Path.StartsWithSegments("/v1/invoices/subscribe");
            if (!isStream)
            {
                if (ResponseDelay > TimeSpan.Zero) await Task.Delay(ResponseDelay, context.RequestAborted);
                if (Interlocked.Decrement(ref FailNext) >= 0)
                {
                    await Error(500, 2, "internal error").ExecuteAsync(context);
                    return;
                }
                Interlocked.Exchange(ref FailNext, Math.Max(FailNext, 0));
            }
            await next(context);
        });

        web.MapPost("/v1/invoices", (HttpContext context) =>
        {
            JsonElement body;
            try
            {
                body = JsonDocument.Parse((string?)context.Items["body"] ?? "").RootElement;
            }
            catch (JsonException)
            {
                return Error(400, 3, "unexpected end of JSON input");
            }
            long Int64Field(string name)
            {
                if (!body.TryGetProperty(name, out var v)) return 0;
                // grpc-gateway accepts a string (the documented form) or a number for an int64.
                return v.ValueKind == JsonValueKind.String ? long.Parse(v.GetString()!, CultureInfo.InvariantCulture) : v.GetInt64();
            }
            var value = Int64Field("value");
            var valueMsat = Int64Field("value_msat");
            if (value != 0 && valueMsat != 0) return Error(400, 2, "value and value_msat are mutually exclusive");
            var expiry = Int64Field("expiry");
            var memo = body.TryGetProperty("memo", out var m) ? m.GetString() ?? "" : "";
            if (memo.Length > 1024) return Error(400, 2, "memo too large");
            var invoice = Create(valueMsat != 0 ? valueMsat : value * 1000, expiry == 0 ? 86400 : expiry, memo);
            return Results.Json(new JsonObject
            {
                ["r_hash"] = Convert.ToBase64String(invoice.RHash),
                ["payment_request"] = invoice.PaymentRequest,
                ["add_index"] = Str(invoice.AddIndex),
                ["payment_addr"] = Convert.ToBase64String(invoice.PaymentAddr),
            });
        });

        web.MapGet("/v1/invoice/{r_hash_str}", (string r_hash_str) =>
        {
            if (r_hash_str.Length != 64 || !r_hash_str.All(Uri.IsHexDigit))
                return Error(400, 2, "unable to decode r_hash_str: encoding/hex: invalid byte");
            lock (gate)
            {
                var invoice = invoices.SingleOrDefault(i => i.Hex == r_hash_str.ToLowerInvariant());
                if (invoice is not null) return Results.Json(invoice.ToJson());
                if (!LegacyNotFound) return Error(404, 5, "unable to locate invoice");
                return Error(500, 2, invoices.Count == 0 ? "there are no existing invoices" : "unable to locate invoice");
            }
        });

        web.MapGet("/v1/invoices", (HttpContext context) =>
        {
            var offset = ulong.Parse(context.Request.Query["index_offset"].FirstOrDefault() ?? "0", CultureInfo.InvariantCulture);
            var max = ulong.Parse(context.Request.Query["num_max_invoices"].FirstOrDefault() ?? "100", CultureInfo.InvariantCulture);
            lock (gate)
            {
                var page = invoices.Where(i => i.AddIndex > offset).OrderBy(i => i.AddIndex).Take((int)Math.Min(max, 10_000)).ToList();
                return Results.Json(new JsonObject
                {
                    ["invoices"] = new JsonArray(page.Select(i => (JsonNode)i.ToJson()).ToArray()),
                    ["last_index_offset"] = Str(page.Count > 0 ? page[^1].AddIndex : offset),
                    ["first_index_offset"] = Str(page.Count > 0 ? page[0].AddIndex : offset),
                });
            }
        });

        web.MapGet("/v1/invoices/subscribe", async (HttpContext context) =>
        {
            if (RefuseSubscriptions)
            {
                await Error(500, 2, "invoice registry is shutting down").ExecuteAsync(context);
                return;
            }
            var settleIndex = ulong.Parse(context.Request.Query["settle_index"].FirstOrDefault() ?? "0", CultureInfo.InvariantCulture);
            var subscriber = new Subscriber();
            List<string> backlog;
            lock (gate)
            {
                subscribers.Add(subscriber);
                backlog = ReplayBacklog && settleIndex > 0
                    ? invoices.Where(i => i.SettleIndex > settleIndex).OrderBy(i => i.SettleIndex)
                        .Select(i => new JsonObject { ["result"] = i.ToJson() }.ToJsonString()).ToList()
                    : [];
            }
            context.Response.ContentType = "application/json";
            await context.Response.StartAsync();
            using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, subscriber.Drop.Token);
            try
            {
                foreach (var line in backlog) await context.Response.WriteAsync(line + "\n", done.Token);
                await context.Response.Body.FlushAsync(done.Token);
                await foreach (var line in subscriber.Lines.Reader.ReadAllAsync(done.Token))
                {
                    await context.Response.WriteAsync(line + "\n", done.Token);
                    await context.Response.Body.FlushAsync(done.Token);
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                lock (gate) subscribers.Remove(subscriber);
            }
            if (subscriber.Drop.IsCancellationRequested) context.Abort();
        });
    }
}
