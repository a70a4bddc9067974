using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using NBitcoin;
using Satsub.Payouts.Lightning;

namespace Satsub.Tests.Payouts;

/// <summary>
/// LND's router REST API as router.swagger.json describes it, for paying: <c>POST /v2/router/send</c> (SendPaymentV2, a
/// newline-delimited stream of <c>{"result": lnrpcPayment}</c>) and <c>GET /v2/router/track/{payment_hash}</c>
/// (TrackPaymentV2; an unknown hash is gRPC NOT_FOUND "payment isn't initiated"), behind the macaroon header. Like LND
/// it refuses to pay one payment hash twice. The test chooses how the next payment ends.
/// </summary>
public sealed class FakeLndRouter : IAsyncDisposable
{
    public const string Macaroon = "0201036c6e6402f801030a1022";

    public enum Ending
    {
        Succeed,
        Fail,
        /// <summary>Stays in flight until <see cref="Complete"/>; the send stream never gets a final update.</summary>
        Hang,
    }

    private readonly ConcurrentDictionary<string, Payment> payments = new();
    private WebApplication app = null!;

    public Uri Url { get; private set; } = null!;

    public Ending Next { get; set; } = Ending.Succeed;

    public long FeeMsat { get; set; } = 2_500;

    public int SendRequests;

    public sealed class Payment
    {
        public required string Hash { get; init; }
        public long ValueSat { get; init; }
        public long FeeMsat { get; set; }
        public string Status { get; set; } = "IN_FLIGHT";
        public string FailureReason { get; set; } = "FAILURE_REASON_NONE";
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public JsonObject ToJson() => new()
        {
            ["payment_hash"] = Hash,
            ["value"] = Str(ValueSat),
            ["value_sat"] = Str(ValueSat),
            ["value_msat"] = Str(ValueSat * 1000),
            ["fee"] = Str(FeeMsat / 1000),
            ["fee_sat"] = Str(FeeMsat / 1000),
            ["fee_msat"] = Str(FeeMsat),
            ["payment_preimage"] = Status == "SUCCEEDED" ? new string('0', 64) : "",
            ["status"] = Status,
            ["failure_reason"] = FailureReason,
            ["htlcs"] = new JsonArray(),
            ["payment_index"] = "1",
        };
    }

    public IReadOnlyDictionary<string, Payment> Payments => payments;

    public static async Task<FakeLndRouter> StartAsync()
    {
        var fake = new FakeLndRouter();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        fake.app = builder.Build();
        fake.Map(fake.app);
        await fake.app.StartAsync();
        fake.Url = new Uri(fake.app.Urls.First());
        return fake;
    }

    /// <summary>A hanging payment reaches its end (as LND would, later).</summary>
    public void Complete(string hash, bool succeed)
    {
        var p = payments[hash];
        p.Status = succeed ? "SUCCEEDED" : "FAILED";
        p.FeeMsat = succeed ? FeeMsat : 0;
        p.FailureReason = succeed ? "FAILURE_REASON_NONE" : "FAILURE_REASON_NO_ROUTE";
        p.Done.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in payments.Values) p.Done.TrySetResult();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static IResult Error(int status, int code, string message) =>
        Results.Json(new JsonObject { ["code"] = code, ["message"] = message, ["details"] = new JsonArray() }, statusCode: status);

    private void Map(WebApplication web)
    {
        web.Use(async (context, next) =>
        {
            if (context.Request.Headers["Grpc-Metadata-macaroon"].FirstOrDefault() != Macaroon)
            {
                await Error(401, 2, "expected 1 macaroon, got 0").ExecuteAsync(context);
                return;
            }
            await next(context);
        });

        web.MapPost("/v2/router/send", async (HttpContext context) =>
        {
            Interlocked.Increment(ref SendRequests);
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = JsonNode.Parse(await reader.ReadToEndAsync())!.AsObject();
            var pr = body["payment_request"]?.GetValue<string>() ?? "";
            if (body["fee_limit_sat"] is null && body["fee_limit_msat"] is null)
            {
                await Error(400, 3, "fee limit required").ExecuteAsync(context);
                return;
            }
            if (!Bolt11Invoice.TryParse(pr, Network.Main, out var invoice, out _))
            {
                await Error(400, 2, "invalid payment request").ExecuteAsync(context);
                return;
            }
            var payment = new Payment { Hash = invoice.PaymentHash, ValueSat = invoice.AmountSats ?? 0 };
            context.Response.ContentType = "application/json";
            if (!payments.TryAdd(invoice.PaymentHash, payment))
            {
                // LND: ErrAlreadyPaid / ErrPaymentInFlight, sent as a stream error.
                await context.Response.WriteAsync(new JsonObject { ["error"] = new JsonObject { ["code"] = 6, ["message"] = "invoice is already paid", ["details"] = new JsonArray() } }.ToJsonString() + "\n");
                return;
            }
            switch (Next)
            {
                case Ending.Succeed: Complete(payment.Hash, succeed: true); break;
                case Ending.Fail: Complete(payment.Hash, succeed: false); break;
            }
            await context.Response.StartAsync();
            try
            {
                await payment.Done.Task.WaitAsync(context.RequestAborted);
                await context.Response.WriteAsync(new JsonObject { ["result"] = payment.ToJson() }.ToJsonString() + "\n", context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // The client gave up; the payment stays in flight on the node.
            }
        });

        web.MapGet("/v2/router/track/{hash}", async (string hash, HttpContext context) =>
        {
            string hex;
            try
            {
                var b64 = hash.Replace('-', '+').Replace('_', '/');
                hex = Convert.ToHexStringLower(Convert.FromBase64String(b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=')));
            }
            catch (FormatException)
            {
                await Error(400, 3, "invalid hash").ExecuteAsync(context);
                return;
            }
            if (!payments.TryGetValue(hex, out var payment))
            {
                await Error((int)HttpStatusCode.NotFound, 5, "payment isn't initiated").ExecuteAsync(context);
                return;
            }
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(new JsonObject { ["result"] = payment.ToJson() }.ToJsonString() + "\n");
        });
    }
}
