using System.ComponentModel;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Satsub.Api;
using Satsub.Api.Idempotency;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Payouts;
using Satsub.Settlement;
using Satsub.Subscriptions;
using Satsub.Users;

namespace Satsub.Affiliates;

/// <summary>
/// An affiliate renews (or buys) their own subscription with their available commission. It is a sale like any other —
/// an invoice of the <c>earnings</c> provider settled through <see cref="SettlementService"/>, so the buyer's direct
/// referrer earns the usual commission (never the buyer) — paid by a posting
/// <c>earnings:{invoice}</c> (the buyer's <c>available</c> → <c>customer_payments</c>) in the settlement's own
/// transaction. On PostgreSQL the balance check takes the payouts' advisory lock, so withdrawals and purchases of one
/// affiliate never spend the same satoshi twice; SQLite runs write transactions one at a time.
/// </summary>
public sealed class PayWithEarnings(SatsubDbContext db, SettlementService settlement, Payments.Rates.FiatRates rates, TimeProvider clock)
{
    public const string ProviderName = "earnings";

    /// <param name="requestKey">The client's idempotency key: the same key for the same user buys once.</param>
    public async Task<(Subscription Subscription, Invoice Invoice)> PayAsync(Guid userId, string planCode, string? requestKey, CancellationToken ct)
    {
        var providerInvoiceId = requestKey is null ? Guid.NewGuid().ToString("N") : $"{userId:N}:{requestKey}";
        if (providerInvoiceId.Length > 200)
            throw new DomainException("invalid_idempotency_key", "Idempotency-Key is too long.", 400);
        var invoice = await db.Invoices.AsNoTracking()
            .SingleOrDefaultAsync(i => i.Provider == ProviderName && i.ProviderInvoiceId == providerInvoiceId, ct);
        if (invoice is { UserId: var owner } && owner != userId)
            throw new DomainException("idempotency_key_reused", "The Idempotency-Key was used before with a different request.", 422);
        if (invoice is not null && invoice.PlanCode != planCode)
            throw new DomainException("idempotency_key_reused", "The Idempotency-Key was used before with a different request.", 422);
        invoice ??= await OpenInvoiceAsync(userId, planCode, providerInvoiceId, ct);

        var id = invoice.Id;
        var amount = invoice.Amount;
        try
        {
            await settlement.SettleAsync(id, new PaymentEvidence(ProviderName, $"earnings:{id:N}", "earnings"), ct,
                (tx, c) => SpendAsync(tx, userId, id, amount, c));
        }
        catch (DomainException)
        {
            // Refused (the balance is short): the invoice stays unsettled and expires; the same key may be tried again.
            db.ChangeTracker.Clear();
            await db.Invoices.Where(i => i.Id == id && i.Status == InvoiceStatus.New)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.Status, InvoiceStatus.Expired), CancellationToken.None);
            throw;
        }
        db.ChangeTracker.Clear();
        var settled = await db.Invoices.AsNoTracking().SingleAsync(i => i.Id == id, ct);
        var subscription = await db.Subscriptions.AsNoTracking().SingleAsync(s => s.Id == settled.SubscriptionId, ct);
        return (subscription, settled);
    }

    private async Task<Invoice> OpenInvoiceAsync(Guid userId, string planCode, string providerInvoiceId, CancellationToken ct)
    {
        var plan = await db.Plans.AsNoTracking().SingleOrDefaultAsync(p => p.Code == planCode && p.Active, ct)
            ?? throw new DomainException("unknown_plan", $"There is no active subscription type '{planCode}'.", 422);
        var amount = plan.PriceSats is { } sats ? new Sats(sats) : (await rates.QuoteAsync(plan.FiatAmount!.Value, plan.FiatCurrency!, ct)).Amount;

        // Checked again under the lock at settlement; this early check only avoids opening invoices nobody can pay.
        var available = await LedgerBook.BalanceAsync(db, Accounts.AffiliateAvailable(userId), ct);
        if (available < amount) throw Insufficient(available, amount);

        var now = clock.GetUtcNow();
        var subscription = await db.Subscriptions
            .Where(s => s.UserId == userId && s.PlanCode == plan.Code
                && (s.Status == SubscriptionStatus.Active || s.Status == SubscriptionStatus.PendingPayment || s.Status == SubscriptionStatus.Expired))
            .OrderByDescending(s => s.CreatedAt)
            .FirstOrDefaultAsync(ct);
        if (subscription is null)
        {
            subscription = new Subscription(Guid.CreateVersion7(now), userId, plan.Code, now);
            db.Subscriptions.Add(subscription);
        }
        var invoice = new Invoice
        {
            Id = Guid.CreateVersion7(now),
            SubscriptionId = subscription.Id,
            UserId = userId,
            PlanCode = plan.Code,
            DurationDays = plan.DurationDays,
            Provider = ProviderName,
            ProviderInvoiceId = providerInvoiceId,
            // No payment network is involved; the provider name says so. (The column has no "earnings" method.)
            Method = PaymentMethod.Lightning,
            AmountSats = amount.Value,
            FiatAmount = plan.FiatAmount,
            FiatCurrency = plan.FiatCurrency,
            Status = InvoiceStatus.New,
            CreatedAt = now,
            ExpiresAt = now,
        };
        db.Invoices.Add(invoice);
        try
        {
            await db.SaveChangesAsync(ct);
            return invoice;
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            // The same key arrived concurrently: use its invoice (the settlement claims it once).
            db.ChangeTracker.Clear();
            return await db.Invoices.AsNoTracking().SingleAsync(i => i.Provider == ProviderName && i.ProviderInvoiceId == providerInvoiceId, ct);
        }
    }

    private static async Task SpendAsync(SatsubDbContext tx, Guid userId, Guid invoiceId, Sats amount, CancellationToken ct)
    {
        var key = $"earnings:{invoiceId:D}";
        if (await tx.LedgerPostings.AnyAsync(p => p.IdempotencyKey == key, ct)) return; // a replay: already paid
        if (tx.IsPostgres)
            await tx.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock({0})", [PayoutService.RequestLockKey], ct);
        var available = await LedgerBook.BalanceAsync(tx, Accounts.AffiliateAvailable(userId), ct);
        if (available < amount) throw Insufficient(available, amount);
        LedgerBook.Post(tx, key, "pay_with_earnings", await NowAsync(tx, invoiceId, ct),
            [(Accounts.AffiliateAvailable(userId), -amount), (Accounts.CustomerPayments, amount)], invoiceId);
        await tx.SaveChangesAsync(ct);
    }

    // The posting carries the settlement's time (the invoice's settled_at, set by the claim in this transaction).
    private static async Task<DateTimeOffset> NowAsync(SatsubDbContext tx, Guid invoiceId, CancellationToken ct) =>
        await tx.Invoices.Where(i => i.Id == invoiceId).Select(i => i.SettledAt).SingleAsync(ct) ?? throw new InvalidOperationException("Invoice not settled.");

    private static DomainException Insufficient(Sats available, Sats amount) =>
        new("insufficient_balance", $"The available balance is {Math.Max(available.Value, 0)} sats; the plan costs {amount.Value} sats.", 409);
}

public sealed record PayWithEarningsRequest([property: Description("The plan code, as GET /subscriptions/types lists it.")] string? SubscriptionType);

/// <summary><c>POST /api/v1/users/{user_id}/subscriptions/pay-with-earnings</c>.</summary>
public static class PayWithEarningsApi
{
    public static RouteGroupBuilder MapPayWithEarningsApi(this RouteGroupBuilder api)
    {
        api.MapPost("/users/{user_id}/subscriptions/pay-with-earnings", PayAsync).Idempotent()
            .WithTags("Subscriptions").RequireAuthorization(ApiCaller.KeyPolicy)
            .WithSummary("Buy or renew a subscription with the user's available commission")
            .WithDescription("A sale like any other (the buyer's referrer earns commission), paid from the user's `available` balance by a ledger posting instead of an invoice. Answers 201 with the subscription and its settled invoice (provider `earnings`). With an Idempotency-Key the same purchase is made once. 409 `insufficient_balance` when the balance does not cover the price.")
            .ProducesProblem(400).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        return api;
    }

    private static async Task<Results<Created<SubscriptionView>, ValidationProblem, ProblemHttpResult>> PayAsync(
        [FromRoute(Name = "user_id")] string userId, PayWithEarningsRequest? body, ClaimsPrincipal caller, SatsubDbContext db,
        PayWithEarnings earnings, HttpContext http, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var type = errors.Text("subscription_type", body?.SubscriptionType, 32, required: true);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        var user = await UsersApi.FindVisibleAsync(db, caller, userId, ct);
        if (user is null) return UsersApi.UserNotFound();
        var key = http.Request.Headers[IdempotencyMiddleware.Header].ToString();
        var (subscription, invoice) = await earnings.PayAsync(user.Id, type!, string.IsNullOrEmpty(key) ? null : key, ct);
        var view = SubscriptionsApi.View(subscription, invoice);
        return TypedResults.Created($"/api/v1/subscriptions/{view.SubscriptionId}", view);
    }
}
