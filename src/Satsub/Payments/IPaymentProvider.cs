using Satsub.Common;

namespace Satsub.Payments;

/// <summary>What Satsub asks a provider to collect. <see cref="InvoiceId"/> is our id (BTCPay's orderId).</summary>
public sealed record InvoiceRequest(Guid InvoiceId, Sats Amount, PaymentMethod Method, string PlanCode, string Description, DateTimeOffset ExpiresAt);

/// <summary>The provider's invoice, shown to the buyer exactly as the provider returned it.</summary>
public sealed record ProviderInvoice(string ProviderInvoiceId, string? Bolt11, string? Address, string PaymentUri, DateTimeOffset ExpiresAt);

/// <summary>One way of taking payment. Each implementation speaks to a real system (or is the documented sandbox).</summary>
public interface IPaymentProvider
{
    /// <summary>The provider's name as stored on invoices and shown in the API (<c>sandbox</c>, <c>btcpay</c>…).</summary>
    string Name { get; }

    Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct);
}

/// <summary>The provider could not be reached or refused the request: nothing was created on our side.</summary>
public sealed class PaymentProviderUnavailableException(string provider, string message, Exception? inner = null)
    : DomainException("payment_provider_unavailable", $"The payment provider '{provider}' is unavailable: {message}", 503)
{
    public string Provider { get; } = provider;
    public Exception? Cause { get; } = inner;
}
