using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payouts;

/// <summary>
/// A local Greenfield server for store payouts, following BTCPay's pull-payments description
/// (/work/shared/reference/btcpay/swagger.template.pull-payments.json) and its controller routes: create a payout through
/// the store (<c>approved</c>, <c>metadata</c>), list the store's payouts (<c>includeCancelled</c>), read one, approve it
/// with its <c>revision</c>; states <c>AwaitingApproval → AwaitingPayment → InProgress → Completed</c> or <c>Cancelled</c>;
/// errors as Greenfield's <c>{code, message}</c> (400) and 401/404. The test drives the payment processor's side.
/// </summary>
public sealed class FakeBtcPayPayouts : IAsyncDisposable
{
    public const string ApiKey = "payout-key-0123456789";
    public const string StoreId = "StoreP4y0uts";

    public sealed class FakePayout
    {
        public required string Id { get; init; }
        public int Revision { get; set; }
        public required string State { get; set; }
        public required string Destination { get; init; }
        public required string Amount { get; init; }
        public required string PayoutMethodId { get; init; }
        public JsonObject? Metadata { get; init; }
        public JsonObject? Proof { get; set; }
        public long Date { get; init; }
    }

    private LocalHttpServer server = null!;

    public ConcurrentDictionary<string, FakePayout> Payouts { get; } = new();

    /// <summary>False: the key may only create unapproved payouts (<c>cancreatenonapprovedpullpayments</c>), so <c>approved</c> is ignored.</summary>
    public bool ApproveOnCreate { get; set; } = true;

    /// <summary>A well-known 400 code to answer the next creation with (<c>overdraft</c>, <c>duplicate-destination</c>…).</summary>
    public string? RefuseNextWith { get; set; }

    /// <summary>Creates the payout, then answers only after this long (a client time-out loses the answer).</summary>
    public TimeSpan CreateDelay { get; set; }

    /// <summary>Answers every request with this status (e.g. 503).</summary>
    public int? FailAllWith { get; set; }

    public int Creates;
    public int Approvals;

    public Uri BaseUri => server.BaseUri;

    public static async Task<FakeBtcPayPayouts> StartAsync()
    {
        var fake = new FakeBtcPayPayouts();
        fake.server = await LocalHttpServer.StartAsync(app =>
        {
            app.MapPost("/api/v1/stores/{storeId}/payouts", fake.CreateAsync);
            app.MapGet("/api/v1/stores/{storeId}/payouts", fake.List);
            app.MapGet("/api/v1/stores/{storeId}/payouts/{payoutId}", fake.Get);
            app.MapPost("/api/v1/stores/{storeId}/payouts/{payoutId}", fake.ApproveAsync);
        });
        return fake;
    }

    public void Complete(string id, JsonObject proof)
    {
        var p = Payouts[id];
        p.State = "Completed";
        p.Proof = proof;
    }

    public void SetState(string id, string state) => Payouts[id].State = state;

    public FakePayout Single() => Payouts.Values.Single();

    private IResult? Check(HttpContext http, string storeId)
    {
        if (FailAllWith is { } status) return Results.StatusCode(status);
        if (http.Request.Headers.Authorization.ToString() != "token " + ApiKey) return Results.Unauthorized();
        return storeId == StoreId ? null : Results.NotFound();
    }

    private static IResult Error(string code, string message) => Results.Json(new JsonObject { ["code"] = code, ["message"] = message }, statusCode: 400);

    private async Task<IResult> CreateAsync(HttpContext http, string storeId)
    {
        if (Check(http, storeId) is { } failed) return failed;
        var body = await JsonNode.ParseAsync(http.Request.Body) as JsonObject;
        var destination = body?["destination"]?.GetValue<string>();
        var amount = body?["amount"]?.GetValue<string>();
        var method = body?["payoutMethodId"]?.GetValue<string>();
        var errors = new JsonArray();
        if (string.IsNullOrEmpty(destination)) errors.Add(new JsonObject { ["path"] = "destination", ["message"] = "The destination is required" });
        if (method is not ("BTC-CHAIN" or "BTC-LN")) errors.Add(new JsonObject { ["path"] = "payoutMethodId", ["message"] = "Invalid payout method" });
        if (amount is null || !decimal.TryParse(amount, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var btc) || btc <= 0)
            errors.Add(new JsonObject { ["path"] = "amount", ["message"] = "The amount should be more than 0." });
        if (errors.Count > 0) return Results.Json(errors, statusCode: 422);
        if (RefuseNextWith is { } code)
        {
            RefuseNextWith = null;
            return Error(code, "Refused by the fake: " + code);
        }
        if (Payouts.Values.Any(p => p.Destination == destination && p.State is not ("Cancelled" or "Completed")))
            return Error("duplicate-destination", "This destination is already used by another payout");

        Interlocked.Increment(ref Creates);
        var approved = ApproveOnCreate && body?["approved"]?.GetValue<bool>() == true;
        var payout = new FakePayout
        {
            Id = Guid.NewGuid().ToString("N")[..22],
            State = approved ? "AwaitingPayment" : "AwaitingApproval",
            Destination = destination!,
            Amount = amount!,
            PayoutMethodId = method!,
            Metadata = body?["metadata"]?.DeepClone() as JsonObject,
            Date = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        };
        Payouts[payout.Id] = payout;
        if (CreateDelay > TimeSpan.Zero) await Task.Delay(CreateDelay);
        return Results.Json(View(payout));
    }

    private IResult List(HttpContext http, string storeId, bool? includeCancelled)
    {
        if (Check(http, storeId) is { } failed) return failed;
        var list = new JsonArray();
        foreach (var p in Payouts.Values.OrderBy(p => p.Date).Where(p => includeCancelled == true || p.State != "Cancelled")) list.Add(View(p));
        return Results.Json(list);
    }

    private IResult Get(HttpContext http, string storeId, string payoutId)
    {
        if (Check(http, storeId) is { } failed) return failed;
        return Payouts.TryGetValue(payoutId, out var p) ? Results.Json(View(p)) : Results.NotFound();
    }

    private async Task<IResult> ApproveAsync(HttpContext http, string storeId, string payoutId)
    {
        if (Check(http, storeId) is { } failed) return failed;
        if (!Payouts.TryGetValue(payoutId, out var p)) return Results.NotFound();
        var body = await JsonNode.ParseAsync(http.Request.Body) as JsonObject;
        if (p.State != "AwaitingApproval") return Error("invalid-state", "The payout is not awaiting approval");
        if (body?["revision"]?.GetValue<int>() != p.Revision) return Error("old-revision", "The revision number is too old");
        Interlocked.Increment(ref Approvals);
        p.State = "AwaitingPayment";
        return Results.Json(View(p));
    }

    private static JsonObject View(FakePayout p) => new()
    {
        ["id"] = p.Id,
        ["revision"] = p.Revision,
        ["pullPaymentId"] = null,
        ["date"] = p.Date.ToString(CultureInfo.InvariantCulture),
        ["destination"] = p.Destination,
        ["originalCurrency"] = "BTC",
        ["originalAmount"] = p.Amount,
        ["payoutCurrency"] = "BTC",
        ["payoutAmount"] = p.State == "AwaitingApproval" ? null : p.Amount,
        ["payoutMethodId"] = p.PayoutMethodId,
        ["state"] = p.State,
        ["paymentProof"] = p.Proof?.DeepClone(),
        ["metadata"] = p.Metadata?.DeepClone() ?? new JsonObject(),
    };

    public ValueTask DisposeAsync() => server.DisposeAsync();
}
