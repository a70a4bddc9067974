using System.Globalization;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;

namespace Satsub.Payments;

/// <summary>
/// The documented development mode, like a payment processor's test mode: invoices are real rows that go
/// through the real settlement path, but no money moves. They are settled by an admin call
/// (<c>POST /api/v1/admin/invoices/{id}/settle</c>) and carry no payable BOLT11 or address, so nobody
/// can send real bitcoin to them by mistake. Refused in Production.
/// </summary>
public sealed class SandboxPaymentProvider(IServiceScopeFactory scopes, TimeProvider clock) : IPaymentProvider
{
    public const string ProviderName = "sandbox";

    public string Name => ProviderName;

    public bool ConvertsFiat => false;

    public Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct)
    {
        var id = "sbx_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var uri = string.Create(CultureInfo.InvariantCulture,
            $"satsub-sandbox:{request.InvoiceId:D}?amount_sats={request.Amount.Value}&method={EnumNames.ToSnake(request.Method)}");
        return Task.FromResult(new ProviderInvoice(id, Bolt11: null, Address: null, uri, request.ExpiresAt));
    }

    /// <summary>
    /// The sandbox's own books are Satsub's invoice table: an invoice is paid only when the admin settles it
    /// (which goes straight through settlement), and it expires when its time is up.
    /// </summary>
    public async Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
        var invoice = await db.Invoices.AsNoTracking()
            .Where(i => i.Provider == ProviderName && i.ProviderInvoiceId == providerInvoiceId)
            .Select(i => new { i.Status, i.ExpiresAt })
            .SingleOrDefaultAsync(ct);
        var status = invoice switch
        {
            null => ProviderInvoiceStatus.Invalid,
            { Status: InvoiceStatus.Settled } => ProviderInvoiceStatus.Settled,
            { Status: InvoiceStatus.Invalid } => ProviderInvoiceStatus.Invalid,
            var i when i.ExpiresAt <= clock.GetUtcNow() => ProviderInvoiceStatus.Expired,
            _ => ProviderInvoiceStatus.New,
        };
        return new ProviderInvoiceState(providerInvoiceId, status);
    }
}
