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
    public async Task<(Subscription Subscription, Invoice Invoice)> StartAsync(Guid userId, string planCode, PaymentMethod method, CancellationToken ct)
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
            Status = InvoiceStatus.New,
            CreatedAt = now,
            ExpiresAt = created.ExpiresAt,
        };
        db.Invoices.Add(invoice);
        await db.SaveChangesAsync(ct);
        return (subscription, invoice);
    }
}
