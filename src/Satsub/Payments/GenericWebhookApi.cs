using System.ComponentModel;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Api;
using Satsub.Data;
using Satsub.Settlement;
using Satsub.Subscriptions;

namespace Satsub.Payments;

/// <summary><c>Payments:Generic</c>: the shared secret of the generic payment webhook. Empty: the webhook is off (404).</summary>
public sealed class GenericWebhookOptions
{
    public const string Section = "Payments:Generic";

    public string? Secret { get; set; }
}

internal sealed class GenericWebhookOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<GenericWebhookOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, GenericWebhookOptions o) =>
        string.IsNullOrEmpty(o.Secret) || o.Secret.Length >= 16
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
            : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(
                $"Payments:Generic:Secret must be at least 16 characters (it has {o.Secret.Length}); leave it empty to turn the generic webhook off.");
}

public sealed record GenericPaymentNotification(
    [property: Description("The paying user's id.")] string? UserId,
    [property: Description("The plan code paid for.")] string? SubscriptionType,
    [property: Description("The processor's id of the payment: deliveries with the same id act once.")] string? TransactionId,
    [property: Description("What was paid; it must equal the plan's price.")] long? AmountSats,
    [property: Description("Optional: lightning (default) or onchain.")] string? Method);

public sealed record GenericPaymentResult(string TransactionId, string InvoiceId, string SubscriptionId, string Status,
    DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, long AmountSats, bool Replayed);

/// <summary>
/// <c>POST /api/v1/webhook/payment</c> for processors without a dedicated integration. The signature
/// (<c>X-Satsub-Signature: sha256=&lt;hex HMAC-SHA256 of the raw body&gt;</c>) is the authentication and is
/// checked before the body is parsed. The transaction id is the natural key: the invoice is created with
/// provider <c>generic</c> and provider invoice id = transaction id (unique), then settled exactly once.
/// </summary>
public static class GenericWebhookApi
{
    public const string ProviderName = "generic";
    public const string SignatureHeader = "X-Satsub-Signature";
    private const int MaxBody = 64 * 1024;

    public static RouteGroupBuilder MapGenericWebhookApi(this RouteGroupBuilder api)
    {
        api.MapPost("/webhook/payment", HandleAsync)
            .WithTags("Webhooks")
            .AllowAnonymous()
            .Accepts<GenericPaymentNotification>("application/json")
            .WithSummary("Generic signed payment notification")
            .WithDescription("No API key: sign the raw body with `Payments:Generic:Secret` and send `X-Satsub-Signature: sha256=<hex HMAC-SHA256>`. Idempotent on transaction_id. A wrong amount is recorded and answered 422; nothing is activated. 404 while no secret is configured.")
            .Produces<GenericPaymentResult>()
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(404).ProducesProblem(422);
        return api;
    }

    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    private static async Task<Results<Ok<GenericPaymentResult>, ValidationProblem, ProblemHttpResult>> HandleAsync(
        HttpContext http, IOptions<GenericWebhookOptions> options, IOptions<JsonOptions> json, SatsubDbContext db,
        PurchaseService purchases, SettlementService settlement, TimeProvider clock, ILoggerFactory loggers, CancellationToken ct)
    {
        var secret = options.Value.Secret;
        if (string.IsNullOrEmpty(secret))
            return ApiProblems.NotFound("not_found", "The generic payment webhook is off: set Payments:Generic:Secret to turn it on.");

        var body = await ReadBodyAsync(http.Request, ct);
        if (body is null) return ApiProblems.Problem(413, "payload_too_large", $"The body is larger than {MaxBody} bytes.");
        if (!SignatureMatches(http.Request.Headers[SignatureHeader].ToString(), secret, body))
        {
            http.RequestServices.GetRequiredService<Operations.SatsubMetrics>().WebhookVerificationFailed("generic");
            return ApiProblems.Problem(401, "invalid_signature", $"{SignatureHeader} is missing or does not match the body.");
        }

        GenericPaymentNotification? n;
        try
        {
            n = JsonSerializer.Deserialize<GenericPaymentNotification>(body, json.Value.SerializerOptions);
        }
        catch (JsonException ex)
        {
            return ApiProblems.InvalidJson(ex.Path);
        }
        var errors = new FieldErrors();
        if (n is null)
        {
            errors.Add("$", "The body must be a JSON object.");
            return ApiProblems.Validation(errors.ToDictionary());
        }
        var userId = errors.Id("user_id", n.UserId);
        var type = errors.Text("subscription_type", n.SubscriptionType, 32, required: true);
        var transactionId = errors.Text("transaction_id", n.TransactionId, 128, required: true);
        if (n.AmountSats is null) errors.Add("amount_sats", "is required.");
        else if (n.AmountSats <= 0) errors.Add("amount_sats", "must be a positive number of sats.");
        var method = PaymentMethod.Lightning;
        var methodText = errors.Text("method", n.Method, 16);
        if (methodText is not null && !EnumNames.TryParse(methodText.ToLowerInvariant(), out method))
            errors.Add("method", "must be 'lightning' or 'onchain'.");
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        var amount = n.AmountSats!.Value;

        // A transaction refused before (wrong amount) stays refused: replaying it changes nothing.
        var refused = await db.PaymentEvents.AsNoTracking()
            .Where(e => e.Provider == ProviderName && e.EventId == transactionId && e.InvoiceId == null)
            .Select(e => e.Outcome).FirstOrDefaultAsync(ct);
        if (refused is not null) return ApiProblems.Problem(422, "amount_mismatch", $"Transaction {transactionId} was refused: {refused}.");

        var invoice = await db.Invoices.AsNoTracking()
            .SingleOrDefaultAsync(i => i.Provider == ProviderName && i.ProviderInvoiceId == transactionId, ct);
        if (invoice is null)
        {
            if (!await db.Users.AnyAsync(u => u.Id == userId && u.ErasedAt == null, ct))
                return ApiProblems.Problem(422, "unknown_user", "user_id names no user.");
            var plan = await db.Plans.AsNoTracking().SingleOrDefaultAsync(p => p.Code == type && p.Active, ct);
            if (plan is null) return ApiProblems.Problem(422, "unknown_plan", $"There is no active subscription type '{type}'.");
            if (plan.PriceSats is { } price && price != amount)
            {
                var outcome = string.Create(CultureInfo.InvariantCulture, $"amount_mismatch: paid {amount} sats, '{plan.Code}' costs {price} sats");
                await RecordRefusalAsync(db, transactionId!, outcome, clock.GetUtcNow(), ct);
                loggers.CreateLogger(typeof(GenericWebhookApi)).LogWarning(
                    "Generic payment {TransactionId} refused: {Outcome}", transactionId, outcome);
                return ApiProblems.Problem(422, "amount_mismatch", $"Transaction {transactionId} was refused: {outcome}.");
            }
            invoice = await purchases.OpenPaidInvoiceAsync(userId!.Value, plan.Code, ProviderName, transactionId!, method, ct);
        }
        if (invoice.UserId != userId || !string.Equals(invoice.PlanCode, type, StringComparison.Ordinal) || invoice.AmountSats != amount)
            return ApiProblems.Problem(422, "transaction_mismatch",
                $"Transaction {transactionId} was delivered before with another user, plan or amount; it is not applied again.");

        var result = await settlement.SettleAsync(invoice.Id, new PaymentEvidence(ProviderName, transactionId!, "payment"), ct);
        return TypedResults.Ok(new GenericPaymentResult(transactionId!, result.InvoiceId.ToString("D"), result.SubscriptionId.ToString("D"),
            "settled", result.PeriodStart, result.PeriodEnd, result.Sale.Value, result.Replayed));
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBody) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBody) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static bool SignatureMatches(string header, string secret, byte[] body)
    {
        const string prefix = "sha256=";
        if (!header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || header.Length != prefix.Length + 64) return false;
        byte[] presented;
        try
        {
            presented = Convert.FromHexString(header.AsSpan(prefix.Length));
        }
        catch (FormatException)
        {
            return false;
        }
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body);
        return CryptographicOperations.FixedTimeEquals(expected, presented);
    }

    private static async Task RecordRefusalAsync(SatsubDbContext db, string transactionId, string outcome, DateTimeOffset now, CancellationToken ct)
    {
        db.PaymentEvents.Add(new PaymentEvent
        {
            Provider = ProviderName,
            EventId = transactionId,
            Kind = "payment",
            ReceivedAt = now,
            ProcessedAt = now,
            Outcome = outcome.Length > 256 ? outcome[..256] : outcome,
        });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            db.ChangeTracker.Clear(); // delivered twice at once: the first record stands
        }
    }
}
