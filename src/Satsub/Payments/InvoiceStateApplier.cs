using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Satsub.Operations;
using Satsub.Settlement;

namespace Satsub.Payments;

/// <summary>
/// Acts on the provider's authoritative state of one invoice — whether a webhook, the LND watcher or the
/// reconciliation job brought it. Settled → settlement (exactly once); Processing/Expired/Invalid → the
/// invoice's status moves forward only; late, partial and over-payments are settled or not as the provider
/// says and always reported to the admin, never guessed.
/// </summary>
public sealed class InvoiceStateApplier(SatsubDbContext db, SettlementService settlement, TimeProvider clock, ILogger<InvoiceStateApplier> logger)
{
    public async Task<string> ApplyAsync(Invoice invoice, ProviderInvoiceState state, string eventId, CancellationToken ct,
        Func<SatsubDbContext, CancellationToken, Task>? inSameTransaction = null)
    {
        var now = clock.GetUtcNow();
        if (state.Exception is not PaymentException.None)
        {
            await AdminFlags.RaiseAsync(db, "payment_" + EnumNames.ToSnake(state.Exception), $"payment-exception:{invoice.Id:D}:{state.Exception}",
                $"invoice {invoice.Id:D}",
                $"{invoice.Provider} reports {state.Status} with {state.Exception} for invoice {invoice.ProviderInvoiceId} " +
                $"(due {invoice.AmountSats} sats, paid {(state.AmountPaid is { } paid ? paid.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : "unknown")} sats).",
                now, ct);
        }

        switch (state.Status)
        {
            case ProviderInvoiceStatus.Settled:
                var result = await settlement.SettleAsync(invoice.Id, new PaymentEvidence(invoice.Provider, eventId, "settled"), ct, inSameTransaction);
                return result.Replayed ? "already_settled" : "settled";
            case ProviderInvoiceStatus.Processing:
                return await MoveAsync(invoice.Id, InvoiceStatus.Processing, [InvoiceStatus.New], ct) ? "processing" : "unchanged";
            case ProviderInvoiceStatus.Expired:
                return await MoveAsync(invoice.Id, InvoiceStatus.Expired, [InvoiceStatus.New, InvoiceStatus.Processing], ct) ? "expired" : "unchanged";
            case ProviderInvoiceStatus.Invalid:
                if (invoice.Status == InvoiceStatus.Settled)
                {
                    // A settled payment the provider now calls invalid (a double spend, say): the owner decides about a refund.
                    await AdminFlags.RaiseAsync(db, "settled_then_invalid", $"settled-then-invalid:{invoice.Id:D}", $"invoice {invoice.Id:D}",
                        $"{invoice.Provider} marks invoice {invoice.ProviderInvoiceId} invalid after it was settled here.", now, ct);
                    logger.LogWarning("Invoice {InvoiceId} was settled but {Provider} now reports it invalid", invoice.Id, invoice.Provider);
                    return "flagged";
                }
                return await MoveAsync(invoice.Id, InvoiceStatus.Invalid, [InvoiceStatus.New, InvoiceStatus.Processing, InvoiceStatus.Expired], ct) ? "invalid" : "unchanged";
            default:
                return "unchanged";
        }
    }

    private async Task<bool> MoveAsync(Guid invoiceId, InvoiceStatus to, InvoiceStatus[] from, CancellationToken ct) =>
        await db.UpdateVersionedAsync(db.Invoices.Where(i => i.Id == invoiceId && from.Contains(i.Status)), s => s.SetProperty(i => i.Status, to), ct) > 0;
}
