using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;

namespace Satsub.Payments.Providers.Lnd;

/// <summary>
/// LND is watched, not pushed: this worker follows <see cref="LndInvoiceWatcher"/> from the last stored
/// <c>settle_index</c>, re-reads each settled invoice, settles it, and stores the new index in the same
/// transaction as the settlement — so a restart resumes exactly where the books are.
/// </summary>
public sealed class LndSettlementWorker(IServiceScopeFactory scopes, LndInvoiceWatcher watcher, ILogger<LndSettlementWorker> logger) : BackgroundService
{
    public const string CursorName = "settle_index";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await using (var setup = scopes.CreateAsyncScope())
        {
            try { await Hosting.StartupGate.WhenServerReadyAsync(setup.ServiceProvider, stoppingToken); }
            catch (Exception) { return; } // stopping, or the database could not be prepared
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var from = await ReadCursorAsync(stoppingToken);
                await foreach (var settled in watcher.WatchAsync(from, stoppingToken))
                    await HandleAsync(settled, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "The LND settlement watcher failed; restarting from the stored settle_index");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
            }
        }
    }

    public async Task HandleAsync(LndSettledInvoice settled, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var db = sp.GetRequiredService<SatsubDbContext>();
        var invoice = await db.Invoices.AsNoTracking()
            .SingleOrDefaultAsync(i => i.Provider == LndPaymentProvider.ProviderName && i.ProviderInvoiceId == settled.RHashHex, ct);
        if (invoice is null)
        {
            // Not ours (another app on the node, a keysend): move on without losing our place.
            await StoreCursorAsync(db, settled.SettleIndex, ct);
            return;
        }
        var provider = sp.GetRequiredService<PaymentProviders>().ByName(LndPaymentProvider.ProviderName)!;
        var state = await provider.GetInvoiceAsync(settled.RHashHex, ct);
        var outcome = await sp.GetRequiredService<InvoiceStateApplier>().ApplyAsync(invoice, state,
            $"settle_index:{settled.SettleIndex.ToString(CultureInfo.InvariantCulture)}", ct,
            (tx, c) => StoreCursorAsync(tx, settled.SettleIndex, c));
        if (outcome is not ("settled" or "already_settled"))
            await StoreCursorAsync(db, settled.SettleIndex, ct);
    }

    private async Task<ulong> ReadCursorAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
        var value = await db.ProviderCursors.AsNoTracking()
            .Where(c => c.Provider == LndPaymentProvider.ProviderName && c.Name == CursorName).Select(c => c.Value).SingleOrDefaultAsync(ct);
        return value is null ? 0 : ulong.Parse(value, CultureInfo.InvariantCulture);
    }

    /// <summary>Stores the index unless a higher one is already stored (the cursor never moves back).</summary>
    internal static async Task StoreCursorAsync(SatsubDbContext db, ulong index, CancellationToken ct)
    {
        var cursor = await db.ProviderCursors.SingleOrDefaultAsync(c => c.Provider == LndPaymentProvider.ProviderName && c.Name == CursorName, ct);
        var now = DateTimeOffset.UtcNow;
        if (cursor is null)
        {
            db.ProviderCursors.Add(new ProviderCursor { Provider = LndPaymentProvider.ProviderName, Name = CursorName, Value = index.ToString(CultureInfo.InvariantCulture), UpdatedAt = now });
        }
        else if (ulong.Parse(cursor.Value, CultureInfo.InvariantCulture) < index)
        {
            cursor.Value = index.ToString(CultureInfo.InvariantCulture);
            cursor.UpdatedAt = now;
        }
        await db.SaveChangesAsync(ct);
    }
}
