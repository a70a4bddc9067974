using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Bitcoin;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Outbox;

namespace Satsub.Payouts;

/// <summary>
/// Withdrawals of affiliates' available commission. A request reserves the amount (<c>available</c> →
/// <c>payouts_in_flight</c>, two-phase like TigerBeetle's pending transfers) in the same transaction that writes the
/// payout; the worker (<see cref="PayoutProcessor"/>) or the admin (<see cref="MarkSentAsync"/>) later settles it to
/// <c>paid</c>, or a failure or rejection returns it to <c>available</c>.
/// </summary>
public sealed class PayoutService(SatsubDbContext db, TimeProvider clock, IOptions<PayoutOptions> options, IOptions<BitcoinOptions> bitcoin,
    IOptions<Affiliates.AffiliateOptions> affiliateOptions, ILogger<PayoutService> logger)
{
    /// <summary>One advisory lock for every payout request on PostgreSQL: requests are rare, and the daily cap spans all affiliates.</summary>
    internal const long RequestLockKey = 0x5a75_6201_7061_7931; // "satsub payouts"

    private PayoutOptions Options => options.Value;

    /// <param name="scheduleKey">For a scheduled payout, its period: a second request for the same affiliate and period returns the first payout.</param>
    public async Task<Payout> RequestAsync(Guid userId, long? amountSats, string? destination, CancellationToken ct, string? scheduleKey = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            db.ChangeTracker.Clear();
            try
            {
                return await RequestOnceAsync(userId, amountSats, destination, scheduleKey, ct);
            }
            catch (Exception ex) when (attempt < 5 && DbErrors.IsRetryableConflict(ex))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10 * attempt), ct);
            }
        }
    }

    private async Task<Payout> RequestOnceAsync(Guid userId, long? amountSats, string? destinationText, string? scheduleKey, CancellationToken ct)
    {
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Id == userId, ct)
            ?? throw new DomainException("user_not_found", "No such user.", 404);
        var text = string.IsNullOrWhiteSpace(destinationText) ? user.PayoutDestination : destinationText;
        if (string.IsNullOrWhiteSpace(text))
            throw new DomainException("destination_required", "No destination given and none saved: set a payout destination first.", 422);
        var destination = PayoutDestination.Parse(text, bitcoin.Value.ToNBitcoin());
        var provider = PayoutOptions.Normalize(Options.Provider) ?? Providers.Sandbox.SandboxPayoutProvider.ProviderName;
        if (provider == Providers.Lnd.LndPayoutProvider.ProviderName && !destination.IsLightning)
            throw new DomainException("destination_unsupported", "Payouts are sent over Lightning: give a Lightning Address or a BOLT11 invoice.", 422);
        if (amountSats is <= 0)
            throw new DomainException("invalid_amount", "The amount must be a positive number of satoshis.", 422);

        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        // SQLite: the transaction is BEGIN IMMEDIATE, so requests are already one at a time.
        if (db.IsPostgres)
            await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock({0})", [RequestLockKey], ct);

        if (scheduleKey is not null
            && await db.Payouts.AsNoTracking().SingleOrDefaultAsync(p => p.UserId == userId && p.ScheduleKey == scheduleKey, ct) is { } scheduled)
            return scheduled;
        await CheckPayingReferralsAsync(userId, ct);

        var available = (await LedgerBook.BalanceAsync(db, Accounts.AffiliateAvailable(userId), ct)).Value;
        var amount = amountSats ?? destination.Invoice?.AmountSats ?? available;
        if (amount <= 0 || amount > available)
            throw new DomainException("insufficient_balance", $"The available balance is {Math.Max(available, 0)} sats; {Math.Max(amount, 0)} sats were requested.", 409);
        var minimum = destination.IsLightning ? Options.MinSats : Options.MinOnchainSats;
        if (amount < minimum)
            throw new DomainException("below_minimum", $"The minimum payout to this destination is {minimum} sats.", 422);
        destination.CheckFor(amount, now);
        var paymentHash = destination.Invoice?.PaymentHash;
        if (paymentHash is not null && await db.Payouts.AnyAsync(p => p.PaymentHash == paymentHash, ct))
            throw new DomainException("destination_used", "This invoice was already given for another payout.", 409);

        var dayStart = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var today = await db.Payouts
            .Where(p => p.RequestedAt >= dayStart && p.Status != PayoutStatus.Rejected && p.Status != PayoutStatus.Failed)
            .SumAsync(p => (long?)p.AmountSats, ct) ?? 0;
        if (today + amount > Options.DailyCapSats)
            throw new DomainException("daily_cap_reached", "Today's payout limit is reached; try again tomorrow or with a smaller amount.", 409);

        var payout = new Payout
        {
            Id = Guid.CreateVersion7(now),
            UserId = userId,
            AmountSats = amount,
            Destination = destination.Value,
            DestinationType = destination.TypeName,
            Provider = provider,
            Status = amount <= Options.AutoApproveMaxSats ? PayoutStatus.Approved : PayoutStatus.Requested,
            PaymentHash = paymentHash,
            Invoice = destination.Invoice?.Invoice,
            ScheduleKey = scheduleKey,
            RequestedAt = now,
            UpdatedAt = now,
        };
        db.Payouts.Add(payout);
        LedgerBook.Post(db, PayoutBook.ReserveKey(payout.Id), "payout_reserve", now,
            [(Accounts.AffiliateAvailable(userId), new Sats(-amount)), (Accounts.PayoutsInFlight, new Sats(amount))]);
        OutboxWriter.Enqueue(db, "payout.requested", $"payout.requested:{payout.Id:D}", new
        {
            PayoutId = payout.Id.ToString("D"),
            UserId = userId.ToString("D"),
            AmountSats = amount,
            Status = EnumNames.ToSnake(payout.Status),
        }, now);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        logger.LogInformation("Payout {PayoutId} of {Amount} sats requested by {UserId} ({Status})", payout.Id, amount, userId, payout.Status);
        return payout;
    }

    /// <summary>
    /// Fraud guard: before the first payout sent (or still on its way), the affiliate needs
    /// <c>Affiliate:MinPayingReferralsForPayout</c> distinct paying referred customers, counting sales not refunded or reversed.
    /// </summary>
    private async Task CheckPayingReferralsAsync(Guid userId, CancellationToken ct)
    {
        var minimum = affiliateOptions.Value.MinPayingReferralsForPayout;
        if (minimum <= 0) return;
        if (await db.Payouts.AnyAsync(p => p.UserId == userId && p.Status == PayoutStatus.Sent, ct)) return;
        var paying = await db.Commissions
            .Where(c => c.AffiliateId == userId && c.State != CommissionState.ClawedBack && c.State != CommissionState.Reversed)
            .Select(c => c.BuyerId).Distinct().CountAsync(ct);
        if (paying < minimum)
            throw new DomainException("too_few_paying_referrals",
                $"The first payout needs {minimum} distinct paying referred customers; you have {paying}.", 409);
    }

    public async Task<Payout> GetAsync(Guid id, CancellationToken ct) =>
        await db.Payouts.AsNoTracking().SingleOrDefaultAsync(p => p.Id == id, ct)
        ?? throw new DomainException("payout_not_found", "No such payout.", 404);

    /// <summary>The admin approves a payout above <c>Payouts:AutoApproveMaxSats</c>. Approving twice is a no-op.</summary>
    public async Task<Payout> ApproveAsync(Guid id, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var changed = await PayoutBook.TransitionAsync(db, id, [PayoutStatus.Requested], PayoutStatus.Approved, now, null, ct);
        var payout = await GetAsync(id, ct);
        if (changed == 0 && payout.Status != PayoutStatus.Approved)
            throw new DomainException("invalid_payout_state", $"A payout that is {EnumNames.ToSnake(payout.Status)} cannot be approved.", 409);
        return payout;
    }

    /// <summary>The admin refuses a payout that has not started sending: the amount goes back to the affiliate.</summary>
    public async Task<Payout> RejectAsync(Guid id, string reason, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await RetryAsync(() => PayoutBook.ReturnAsync(db, id, [PayoutStatus.Requested, PayoutStatus.Approved], PayoutStatus.Rejected,
            string.IsNullOrWhiteSpace(reason) ? "rejected" : reason.Trim(), now, ct), ct);
        var payout = await GetAsync(id, ct);
        if (payout.Status != PayoutStatus.Rejected)
            throw new DomainException("invalid_payout_state", $"A payout that is {EnumNames.ToSnake(payout.Status)} cannot be rejected.", 409);
        return payout;
    }

    /// <summary>
    /// The manual flow: the admin paid an approved payout outside Satsub and records its txid or payment hash and the
    /// network fee. Under the affiliate fee policy the admin sent the amount less the fee. Marking twice is a no-op.
    /// </summary>
    public async Task<Payout> MarkSentAsync(Guid id, string txidOrPaymentHash, long feeSats, CancellationToken ct)
    {
        var reference = txidOrPaymentHash?.Trim().ToLowerInvariant() ?? "";
        if (reference.Length != 64 || !reference.All(Uri.IsHexDigit))
            throw new DomainException("invalid_reference", "Give the transaction id or payment hash: 64 hexadecimal digits.", 422);
        var payout = await GetAsync(id, ct);
        if (payout.Provider != Providers.Manual.ManualPayoutProvider.ProviderName)
            throw new DomainException("invalid_payout_state", $"Payout {id:D} is sent by the {payout.Provider} provider, not by hand.", 409);
        if (feeSats < 0 || feeSats >= payout.AmountSats)
            throw new DomainException("invalid_fee", "The fee must be at least 0 and less than the payout.", 422);
        var attempt = payout.DestinationType == PayoutDestination.TypeNameOf(PayoutDestinationKind.Onchain)
            ? PayoutAttempt.Sent(Options.Fees == PayoutFeePolicy.Affiliate ? payout.AmountSats - feeSats : payout.AmountSats, feeSats, txid: reference)
            : PayoutAttempt.Sent(Options.Fees == PayoutFeePolicy.Affiliate ? payout.AmountSats - feeSats : payout.AmountSats, feeSats, paymentHash: reference);
        if (await db.Payouts.AnyAsync(p => p.Id != id && (p.PaymentHash == reference || p.Txid == reference), ct))
            throw new DomainException("invalid_reference", "This txid or payment hash is already recorded for another payout.", 409);
        var now = clock.GetUtcNow();
        await RetryAsync(() => PayoutBook.CompleteSentAsync(db, id, [PayoutStatus.Approved, PayoutStatus.Sending], attempt, Options.Fees, now, ct), ct);
        payout = await GetAsync(id, ct);
        if (payout.Status != PayoutStatus.Sent)
            throw new DomainException("invalid_payout_state", $"A payout that is {EnumNames.ToSnake(payout.Status)} cannot be marked sent.", 409);
        return payout;
    }

    private async Task RetryAsync(Func<Task<bool>> action, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await action();
                return;
            }
            catch (Exception ex) when (attempt < 5 && DbErrors.IsRetryableConflict(ex))
            {
                db.ChangeTracker.Clear();
                await Task.Delay(TimeSpan.FromMilliseconds(10 * attempt), ct);
            }
        }
    }
}
