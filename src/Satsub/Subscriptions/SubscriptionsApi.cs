using System.ComponentModel;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using NBitcoin;
using Satsub.Api;
using Satsub.Api.Idempotency;
using Satsub.Bitcoin;
using Satsub.Common;
using Satsub.Data;
using Satsub.Payments;
using Satsub.Plans;
using Satsub.Users;

namespace Satsub.Subscriptions;

public sealed record SubscriptionType(string Type, string Name, string Description,
    [property: Description("The price in sats; null for a plan priced in fiat (converted at invoice time).")] long? PriceSats,
    int DurationDays);

public sealed record PaymentData(
    [property: Description("lightning or onchain.")] string? Method,
    [property: Description("Optional: the price as a BTC decimal string (\"0.00025\"). It must equal the plan's price; it never sets it.")] JsonElement? Amount,
    [property: Description("Optional refund address, validated for the configured Bitcoin network.")] string? BtcAddress);

public sealed record CreateSubscriptionRequest(string? UserId,
    [property: Description("The plan code, as GET /subscriptions/types lists it.")] string? SubscriptionType,
    PaymentData? PaymentData);

public sealed record InvoiceView(string InvoiceId, string Status,
    [property: Description("The configured payment provider: sandbox, btcpay, …")] string Provider,
    string Method, long AmountSats, string? Bolt11, string? Address, string? PaymentUri, DateTimeOffset ExpiresAt, DateTimeOffset? SettledAt,
    [property: Description("The refund address given at purchase, if any.")] string? RefundAddress);

public sealed record SubscriptionView(string SubscriptionId, string UserId, string Type,
    [property: Description("pending_payment, active, expired or canceled.")] string Status,
    DateTimeOffset? StartsAt, DateTimeOffset? ExpiresAt, DateTimeOffset CreatedAt, InvoiceView? Invoice);

/// <summary><c>/api/v1/subscriptions</c>: the plans on sale, buying one (or renewing), and reading a subscription.</summary>
public static class SubscriptionsApi
{
    public static RouteGroupBuilder MapSubscriptionsApi(this RouteGroupBuilder api)
    {
        var subscriptions = api.MapGroup("/subscriptions").WithTags("Subscriptions").RequireAuthorization(ApiCaller.KeyPolicy);
        subscriptions.MapGet("/types", TypesAsync)
            .WithSummary("The subscription types on sale, with price and duration");
        subscriptions.MapPost("/", CreateAsync).Idempotent()
            .WithSummary("Buy (or renew) a subscription")
            .WithDescription("Opens an invoice at the plan's price with the configured provider. Buying a plan the user already has is a renewal: the same subscription_id with a new invoice; settling it extends expires_at.")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(422).ProducesProblem(503);
        subscriptions.MapGet("/{subscription_id}", GetAsync)
            .WithSummary("One subscription with its latest invoice")
            .ProducesProblem(404);
        return api;
    }

    private static async Task<Ok<List<SubscriptionType>>> TypesAsync(PlanCatalog plans, CancellationToken ct)
    {
        var list = await plans.ListAsync(activeOnly: true, ct);
        return TypedResults.Ok(list.Select(p => new SubscriptionType(p.Code, p.Name, p.Description, p.PriceSats, p.DurationDays)).ToList());
    }

    private static async Task<Results<Created<SubscriptionView>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateSubscriptionRequest body, ClaimsPrincipal caller, SatsubDbContext db, PlanCatalog plans, PurchaseService purchases,
        IOptions<BitcoinOptions> bitcoin, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var userId = errors.Text("user_id", body.UserId, 64, required: true);
        var type = errors.Text("subscription_type", body.SubscriptionType, 32, required: true);
        PaymentMethod method = default;
        var methodText = errors.Text("payment_data.method", body.PaymentData?.Method, 16, required: true);
        if (methodText is not null && !EnumNames.TryParse(methodText.ToLowerInvariant(), out method))
            errors.Add("payment_data.method", "must be 'lightning' or 'onchain'.");
        var amount = ParseBtcAmount(errors, body.PaymentData?.Amount);
        var btcAddress = errors.Text("payment_data.btc_address", body.PaymentData?.BtcAddress, 128);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());

        var user = await UsersApi.FindVisibleAsync(db, caller, userId, ct);
        if (user is null) return UsersApi.UserNotFound();
        var plan = await plans.FindActiveAsync(type!, ct);
        if (plan is null) return ApiProblems.Problem(422, "unknown_plan", $"There is no active subscription type '{type}'.");
        if (amount is { } sats && plan.PriceSats is { } price && sats != price)
            return ApiProblems.Problem(422, "amount_mismatch",
                $"payment_data.amount is {sats} sats but '{plan.Code}' costs {price} sats: the price comes from the plan.");
        if (btcAddress is not null && !IsValidAddress(btcAddress, bitcoin.Value))
            return ApiProblems.Problem(422, "invalid_btc_address", $"payment_data.btc_address is not a valid {bitcoin.Value.Network} address.");

        var (subscription, invoice) = await purchases.StartAsync(user.Id, plan.Code, method, btcAddress, ct);
        var view = View(subscription, invoice);
        return TypedResults.Created($"/api/v1/subscriptions/{view.SubscriptionId}", view);
    }

    private static async Task<Results<Ok<SubscriptionView>, ProblemHttpResult>> GetAsync(
        [FromRoute(Name = "subscription_id")] string subscriptionId, ClaimsPrincipal caller, SatsubDbContext db, CancellationToken ct)
    {
        if (subscriptionId.Length > 64 || !Guid.TryParse(subscriptionId, out var id)) return NotFound();
        var subscription = await db.Subscriptions.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, ct);
        if (subscription is null) return NotFound();
        var platform = await db.Users.Where(u => u.Id == subscription.UserId).Select(u => u.Platform).SingleAsync(ct);
        if (!caller.CanAccess(platform)) return NotFound();
        var invoice = await db.Invoices.AsNoTracking()
            .Where(i => i.SubscriptionId == id)
            .OrderByDescending(i => i.CreatedAt).ThenByDescending(i => i.Id)
            .FirstOrDefaultAsync(ct);
        return TypedResults.Ok(View(subscription, invoice));
    }

    private static ProblemHttpResult NotFound() => ApiProblems.NotFound("subscription_not_found", "No such subscription.");

    public static SubscriptionView View(Subscription s, Invoice? i) => new(
        s.Id.ToString("D"), s.UserId.ToString("D"), s.PlanCode, EnumNames.ToSnake(s.Status), s.StartsAt, s.ExpiresAt, s.CreatedAt,
        i is null ? null : InvoiceViewOf(i));

    public static InvoiceView InvoiceViewOf(Invoice i) => new(
        i.Id.ToString("D"), EnumNames.ToSnake(i.Status), i.Provider, EnumNames.ToSnake(i.Method), i.AmountSats,
        i.Bolt11, i.Address, i.PaymentUri, i.ExpiresAt, i.SettledAt, i.RefundAddress);

    /// <summary>A BTC amount ("0.00025" or 0.00025) in sats; null when absent. At most 8 decimals, positive, at most 21M BTC.</summary>
    private static long? ParseBtcAmount(FieldErrors errors, JsonElement? amount)
    {
        if (amount is not { } element || element.ValueKind == JsonValueKind.Null) return null;
        var text = element.ValueKind switch
        {
            JsonValueKind.String => element.StringOrNull(),
            JsonValueKind.Number => element.GetRawText(),
            _ => null,
        };
        if (text is null || text.Length > 40
            || !decimal.TryParse(text.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var btc)
            || btc <= 0 || btc > 21_000_000m || decimal.Round(btc, 8) != btc)
        {
            errors.Add("payment_data.amount", "must be a positive BTC amount with at most 8 decimals, such as \"0.00025\".");
            return null;
        }
        return (long)(btc * 100_000_000m);
    }

    private static bool IsValidAddress(string address, BitcoinOptions options)
    {
        try
        {
            BitcoinAddress.Create(address, options.ToNBitcoin());
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException)
        {
            return false;
        }
    }
}
