using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Common;
using Satsub.Data;
using Satsub.Payments;
using Satsub.Plans;

namespace Satsub.Subscriptions;

/// <summary>
/// Starts a purchase: finds or opens the user's subscription to the plan and asks the payment provider for
/// an invoice at the plan's price. Buying a plan the user already has is a renewal of the same subscription.
/// </summary>
public sealed class PurchaseService(
    SatsubDbContext db,
    PaymentProviders providers,
    Payments.Rates.FiatRates rates,
    IOptions<PaymentsOptions> payments,
    TimeProvider clock)
{
    public Task<(Subscription Subscription, Invoice Invoice)> StartAsync(Guid userId, string planCode, PaymentMethod method, CancellationToken ct) =>
        StartAsync(userId, planCode, method, refundAddress: null, ct);

    /// <param name="refundAddress">An on-chain address to refund the buyer to, already validated by the caller.</param>
    public async Task<(Subscription Subscription, Invoice Invoice)> StartAsync(Guid userId, string planCode, PaymentMethod method, string? refundAddress, CancellationToken ct)
    {
        var plan = await db.Plans.AsNoTracking().SingleOrDefaultAsync(p => p.Code == planCode && p.Active, ct)
            ?? throw new DomainException("unknown_plan", $"There is no active plan '{planCode}'.", 422);
        if (!await db.Users.AnyAsync(u => u.Id == userId && u.ErasedAt == null, ct))
            throw new DomainException("unknown_user", "The user does not exist.", 404);
        var provider = providers.For(method);
        var now = clock.GetUtcNow();
        var invoiceId = Guid.CreateVersion7(now);
        var expiresAt = now.AddMinutes(payments.Value.InvoiceExpiryMinutes);

        // The price: sats from the plan; or a fiat price converted once, now — by the provider if it converts,
        // otherwise with the configured rate source — and recorded on the invoice.
        Sats amount;
        FiatPrice? fiat = null;
        Payments.Rates.FiatQuote? quote = null;
        if (plan.PriceSats is { } priceSats)
        {
            amount = new Sats(priceSats);
        }
        else
        {
            fiat = new FiatPrice(plan.FiatAmount!.Value, plan.FiatCurrency!);
            quote = await rates.QuoteAsync(fiat.Amount, fiat.Currency, ct);
            amount = quote.Amount;
            if (!provider.ConvertsFiat) fiat = null;
        }

        // The provider is called before anything is written: if it fails, nothing is half-created here.
        var created = await provider.CreateInvoiceAsync(new InvoiceRequest(invoiceId, amount, method, plan.Code, plan.Name, expiresAt, fiat), ct);
        if (created.Amount is { } providerAmount && fiat is not null) amount = providerAmount;

        var subscription = await FindOrOpenSubscriptionAsync(userId, plan.Code, now, ct);

        var invoice = new Invoice
        {
            Id = invoiceId,
            SubscriptionId = subscription.Id,
            UserId = userId,
            PlanCode = plan.Code,
            DurationDays = plan.DurationDays,
            Provider = provider.Name,
            ProviderInvoiceId = created.ProviderInvoiceId,
            Method = method,
            AmountSats = amount.Value,
            FiatAmount = plan.FiatAmount,
            FiatCurrency = plan.FiatCurrency,
            FiatRate = fiat is not null && created.FiatRate is { } providerRate ? providerRate : quote?.BtcPrice,
            FiatRateSource = fiat is not null && created.FiatRate is not null ? provider.Name : quote?.Source,
            Bolt11 = created.Bolt11,
            Address = created.Address,
            PaymentUri = created.PaymentUri,
            RefundAddress = refundAddress,
            Status = InvoiceStatus.New,
            CreatedAt = now,
            ExpiresAt = created.ExpiresAt,
        };
        db.Invoices.Add(invoice);
        await db.SaveChangesAsync(ct);
        return (subscription, invoice);
    }

    /// <summary>
    /// The invoice for a payment a processor has already taken (the generic payment webhook): no provider call,
    /// the plan's price, and (provider, provider invoice id) unique, so a second delivery of the same transaction
    /// finds the first invoice instead of making another.
    /// </summary>
    public async Task<Invoice> OpenPaidInvoiceAsync(Guid userId, string planCode, string providerName, string providerInvoiceId, PaymentMethod method, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var existing = await db.Invoices.AsNoTracking()
                .SingleOrDefaultAsync(i => i.Provider == providerName && i.ProviderInvoiceId == providerInvoiceId, ct);
            if (existing is not null) return existing;

            var plan = await db.Plans.AsNoTracking().SingleOrDefaultAsync(p => p.Code == planCode && p.Active, ct)
                ?? throw new DomainException("unknown_plan", $"There is no active plan '{planCode}'.", 422);
            if (plan.PriceSats is not { } priceSats)
                throw new DomainException("fiat_rate_unavailable", $"Plan '{plan.Code}' is priced in {plan.FiatCurrency}; converting fiat prices needs a rate source, which this build does not have yet.", 503);
            var now = clock.GetUtcNow();
            var subscription = await FindOrOpenSubscriptionAsync(userId, plan.Code, now, ct);
            var invoice = new Invoice
            {
                Id = Guid.CreateVersion7(now),
                SubscriptionId = subscription.Id,
                UserId = userId,
                PlanCode = plan.Code,
                DurationDays = plan.DurationDays,
                Provider = providerName,
                ProviderInvoiceId = providerInvoiceId,
                Method = method,
                AmountSats = priceSats,
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
            catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex) && attempt < 3)
            {
                // The same transaction delivered concurrently: the next round finds its invoice.
                db.ChangeTracker.Clear();
            }
        }
    }

    private async Task<Subscription> FindOrOpenSubscriptionAsync(Guid userId, string planCode, DateTimeOffset now, CancellationToken ct)
    {
        var subscription = await db.Subscriptions
            .Where(s => s.UserId == userId && s.PlanCode == planCode
                && (s.Status == SubscriptionStatus.Active || s.Status == SubscriptionStatus.PendingPayment || s.Status == SubscriptionStatus.Expired))
            .OrderByDescending(s => s.CreatedAt)
            .FirstOrDefaultAsync(ct);
        if (subscription is null)
        {
            subscription = new Subscription(Guid.CreateVersion7(now), userId, planCode, now);
            db.Subscriptions.Add(subscription);
        }
        return subscription;
    }
}
