using System.Globalization;
using System.Security.Cryptography;

namespace Satsub.Payments;

/// <summary>
/// The documented development mode, like a payment processor's test mode: invoices are real rows that go
/// through the real settlement path, but no money moves. They are settled by an admin call
/// (<c>POST /api/v1/admin/invoices/{id}/settle</c>) and carry no payable BOLT11 or address, so nobody
/// can send real bitcoin to them by mistake. Refused in Production.
/// </summary>
public sealed class SandboxPaymentProvider : IPaymentProvider
{
    public const string ProviderName = "sandbox";

    public string Name => ProviderName;

    public bool ConvertsFiat => false;

    public Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct)
    {
        var id = "sbx_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var uri = string.Create(CultureInfo.InvariantCulture,
            $"satsub-sandbox:{request.InvoiceId:D}?amount_sats={request.Amount.Value}&method={Data.EnumNames.ToSnake(request.Method)}");
        return Task.FromResult(new ProviderInvoice(id, Bolt11: null, Address: null, uri, request.ExpiresAt));
    }

    /// <summary>
    /// The sandbox keeps no state of its own: an invoice is paid only when the admin settles it, which goes
    /// straight through settlement, so from the provider's side it is always still waiting.
    /// </summary>
    public Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct) =>
        Task.FromResult(new ProviderInvoiceState(providerInvoiceId, ProviderInvoiceStatus.New));
}
