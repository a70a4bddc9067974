using Microsoft.AspNetCore.Http;
using Satsub.Common;

namespace Satsub.Payments;

/// <summary>What Satsub asks a provider to collect. <see cref="InvoiceId"/> is our id (BTCPay's orderId).</summary>
/// <param name="Fiat">When the plan is priced in fiat and the provider converts itself (BTCPay, BitPay, OpenNode),
/// the fiat price to invoice; <see cref="Amount"/> is then the sats estimate and the provider's figure wins.</param>
public sealed record InvoiceRequest(
    Guid InvoiceId,
    Sats Amount,
    PaymentMethod Method,
    string PlanCode,
    string Description,
    DateTimeOffset ExpiresAt,
    FiatPrice? Fiat = null);

public sealed record FiatPrice(decimal Amount, string Currency);

/// <summary>The provider's invoice, shown to the buyer exactly as the provider returned it.</summary>
/// <param name="Amount">The sats the buyer must pay, as the provider set it (for fiat invoices, after its conversion).</param>
/// <param name="FiatRate">Sats per unit of fiat the provider used, when it converted.</param>
public sealed record ProviderInvoice(
    string ProviderInvoiceId,
    string? Bolt11,
    string? Address,
    string PaymentUri,
    DateTimeOffset ExpiresAt,
    Sats? Amount = null,
    decimal? FiatRate = null);

public enum ProviderInvoiceStatus
{
    New,
    Processing,
    Settled,
    Expired,
    Invalid,
}

/// <summary>
/// Why a provider's invoice is in its status, when it is not the plain case. These are recorded and reported
/// to the admin, never guessed into a settlement (BTCPay's <c>additionalStatus</c>).
/// </summary>
public enum PaymentException
{
    None,
    PaidLate,
    PaidPartial,
    PaidOver,
    Marked,
    Invalid,
}

/// <summary>The provider's authoritative view of one invoice, re-fetched before anything is credited.</summary>
public sealed record ProviderInvoiceState(
    string ProviderInvoiceId,
    ProviderInvoiceStatus Status,
    PaymentException Exception = PaymentException.None,
    Sats? AmountPaid = null);

/// <summary>One way of taking payment. Each implementation speaks to a real system (or is the documented sandbox).</summary>
public interface IPaymentProvider
{
    /// <summary>The provider's name as stored on invoices and shown in the API (<c>sandbox</c>, <c>btcpay</c>…).</summary>
    string Name { get; }

    /// <summary>Whether the provider converts fiat prices itself; otherwise Satsub converts with its rate source.</summary>
    bool ConvertsFiat { get; }

    /// <summary>Creates the invoice. Throws <see cref="PaymentProviderUnavailableException"/> on a time-out or failure.</summary>
    Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct);

    /// <summary>Re-reads the invoice from the provider: the truth a webhook only hints at.</summary>
    Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct);
}

/// <summary>A notification that passed authentication: its natural id, and the provider invoice it is about.</summary>
public sealed record WebhookNotification(string EventId, string? ProviderInvoiceId, string Kind);

/// <summary>
/// Authenticates a provider's push notification from the raw bytes, before any parsing of what it claims
/// (signature checked in constant time; for an unsigned protocol such as BitPay's, only the invoice id is taken
/// and the invoice is always re-fetched).
/// </summary>
public interface IWebhookAuthenticator
{
    string Provider { get; }

    /// <summary>The notification, or null when it is not authentic (never says why to the caller).</summary>
    WebhookNotification? Authenticate(IHeaderDictionary headers, ReadOnlySpan<byte> body);
}

/// <summary>The provider could not be reached or refused the request: nothing was created on our side.</summary>
public sealed class PaymentProviderUnavailableException(string provider, string message, Exception? inner = null)
    : DomainException("payment_provider_unavailable", $"The payment provider '{provider}' is unavailable: {message}", 503)
{
    public string Provider { get; } = provider;
    public Exception? Cause { get; } = inner;
}
