using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Affiliates;
using Satsub.Affiliates.Standings;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Outbox;
using Satsub.Payments;
using Satsub.Subscriptions;
using Satsub.Users;

namespace Satsub.Settlement;

/// <summary>The provider's word that an invoice is paid: which provider, and the natural id of its notification.</summary>
public sealed record PaymentEvidence(string Provider, string EventId, string Kind = "settled");

/// <summary>What a settlement did. Settling again returns the same figures with <see cref="Replayed"/> set.</summary>
public sealed record SettlementResult(
    Guid InvoiceId,
    Guid SubscriptionId,
    Guid PostingId,
    DateTimeOffset SettledAt,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    Sats Sale,
    Sats OwnerShare,
    Sats AffiliateShare,
    Guid? AffiliateId,
    bool Replayed);

public sealed class UnknownInvoiceException(Guid invoiceId) : Exception($"Invoice {invoiceId} does not exist.")
{
    public Guid InvoiceId { get; } = invoiceId;
}

public sealed class SettlementRefusedException(string message) : Exception(message);

/// <summary>One invoice to settle, and the provider's word for it.</summary>
public sealed record SettlementRequest(Guid InvoiceId, PaymentEvidence Evidence);

/// <summary>What became of one request of a batch: its result, or why it was refused (nothing of it was written).</summary>
public sealed record SettlementOutcome(SettlementRequest Request, SettlementResult? Result, Exception? Error);

/// <summary>
/// Settles paid invoices: in one transaction it marks each invoice settled, activates or extends its subscription,
/// posts the split to the ledger and queues the notifications. Exactly once: an invoice row is claimed with a
/// conditional update, so a second settlement (sequential or concurrent, from any connection) finds it settled and
/// returns the first result; the posting's unique idempotency key and the outbox's unique dedupe keys make a double
/// booking impossible even if that guard were bypassed. Several invoices can settle in one transaction
/// (<see cref="SettleBatchAsync"/>): one commit and a handful of round trips for the whole batch instead of a dozen
/// per invoice — what lets the payment inbox keep up with a webhook storm (docs/benchmarks.md).
/// </summary>
public sealed class SettlementService(
    SatsubDbContext db,
    CommissionRates rates,
    IOptions<AffiliateOptions> affiliateOptions,
    TimeProvider clock,
    ILogger<SettlementService> logger,
    Operations.SatsubMetrics metrics)
{
    private const int MaxAttempts = 8;

    /// <param name="inSameTransaction">Runs inside the settlement's transaction, whether it settles or replays —
    /// for example to store a watcher's resume cursor atomically with the settlement it led to.</param>
    public async Task<SettlementResult> SettleAsync(Guid invoiceId, PaymentEvidence evidence, CancellationToken ct = default,
        Func<SatsubDbContext, CancellationToken, Task>? inSameTransaction = null)
    {
        var outcome = (await SettleBatchAsync([new SettlementRequest(invoiceId, evidence)], ct,
            inSameTransaction is null ? null : (d, _, token) => inSameTransaction(d, token)))[0];
        if (outcome.Error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(outcome.Error);
        return outcome.Result!;
    }

    /// <summary>
    /// Settles several invoices in one transaction; the outcomes are in the order of the requests. A request for an
    /// unknown invoice, or for an invoice of another provider, gets an error outcome and changes nothing; the others
    /// still settle. A request for an invoice already settled (before, or earlier in the same batch) is a replay.
    /// </summary>
    /// <param name="inSameTransaction">Runs inside the transaction with the outcomes, unless every request failed.</param>
    public async Task<IReadOnlyList<SettlementOutcome>> SettleBatchAsync(IReadOnlyList<SettlementRequest> requests, CancellationToken ct = default,
        Func<SatsubDbContext, IReadOnlyList<SettlementOutcome>, CancellationToken, Task>? inSameTransaction = null)
    {
        if (requests.Count == 0) return [];
        for (var attempt = 1; ; attempt++)
        {
            db.ChangeTracker.Clear();
            try
            {
                return await SettleBatchOnceAsync(requests, inSameTransaction, ct);
            }
            catch (Exception ex) when (attempt < MaxAttempts && DbErrors.IsRetryableConflict(ex))
            {
                // Another transaction settled or extended the same rows first: the next attempt sees its result.
                logger.LogDebug("Settlement of {Count} invoice(s) conflicted (attempt {Attempt}); retrying", requests.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20 * attempt)), ct);
            }
        }
    }

    private sealed record Sale(Invoice Invoice, Subscription Subscription, User Buyer, SaleSplit Split, LedgerPosting Posting,
        DateTimeOffset From, DateTimeOffset To, string? ReviewReason);

    private async Task<IReadOnlyList<SettlementOutcome>> SettleBatchOnceAsync(IReadOnlyList<SettlementRequest> requests,
        Func<SatsubDbContext, IReadOnlyList<SettlementOutcome>, CancellationToken, Task>? inSameTransaction, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(ct);

        // The claim: only one transaction can move an invoice to settled; the others wait on the row lock (PostgreSQL)
        // or the write lock (SQLite) and then update nothing. One statement per provider (a batch has one, usually).
        foreach (var byProvider in requests.GroupBy(r => r.Evidence.Provider, StringComparer.Ordinal))
        {
            var ids = byProvider.Select(r => r.InvoiceId).Distinct().ToList();
            var provider = byProvider.Key;
            await db.UpdateVersionedAsync(
                db.Invoices.Where(i => ids.Contains(i.Id) && i.Status != InvoiceStatus.Settled && i.Provider == provider),
                s => s.SetProperty(i => i.Status, InvoiceStatus.Settled).SetProperty(i => i.SettledAt, now), ct);
        }
        var invoiceIds = requests.Select(r => r.InvoiceId).Distinct().ToList();
        // Not tracked on PostgreSQL: the batch writes its changes with one statement per table (NewRows).
        var invoices = await db.Invoices.Where(i => invoiceIds.Contains(i.Id)).AsTracking(db.IsPostgres ? QueryTrackingBehavior.NoTracking : QueryTrackingBehavior.TrackAll)
            .ToDictionaryAsync(i => i.Id, ct);
        // Claimed here: settled, and its posting not written yet (a settled invoice always has its posting once committed).
        var claimed = invoices.Values.Where(i => i.Status == InvoiceStatus.Settled && i.SettlementPostingId is null).Select(i => i.Id).ToHashSet();

        var errors = new Exception?[requests.Count];
        for (var r = 0; r < requests.Count; r++)
        {
            var request = requests[r];
            if (!invoices.TryGetValue(request.InvoiceId, out var invoice)) errors[r] = new UnknownInvoiceException(request.InvoiceId);
            else if (!string.Equals(invoice.Provider, request.Evidence.Provider, StringComparison.Ordinal))
                errors[r] = new SettlementRefusedException($"Invoice {request.InvoiceId} belongs to provider '{invoice.Provider}', not '{request.Evidence.Provider}'.");
        }
        if (errors.All(e => e is not null)) return [.. requests.Select((r, i) => new SettlementOutcome(r, null, errors[i]))];

        await RecordEventsAsync([.. requests.Where((_, i) => errors[i] is null)], now, ct);

        var sales = await SettleClaimedAsync(invoices, [.. invoiceIds.Where(claimed.Contains)], now, ct);
        var replayed = await ExistingResultsAsync([.. invoices.Values.Where(i => !claimed.Contains(i.Id) && i.Status == InvoiceStatus.Settled)], ct);

        var outcomes = new SettlementOutcome[requests.Count];
        var answered = new HashSet<Guid>();
        for (var r = 0; r < requests.Count; r++)
        {
            var request = requests[r];
            if (errors[r] is { } error) { outcomes[r] = new SettlementOutcome(request, null, error); continue; }
            SettlementResult result;
            if (sales.TryGetValue(request.InvoiceId, out var sale))
            {
                result = Result(sale, replayed: false);
                // The same invoice twice in one batch (a redelivery): the second is a replay of the first.
                if (!answered.Add(request.InvoiceId)) result = result with { Replayed = true };
            }
            else if (replayed.TryGetValue(request.InvoiceId, out var existing)) result = existing;
            else
            {
                // Another provider's request in this batch cannot settle it, and this one's status is not settled:
                // only possible if the claim for this provider updated nothing, which the provider check above rules out.
                outcomes[r] = new SettlementOutcome(request, null, new InvalidOperationException($"Invoice {request.InvoiceId} was neither settled nor claimed."));
                continue;
            }
            outcomes[r] = new SettlementOutcome(request, result, null);
        }

        if (inSameTransaction is not null) await inSameTransaction(db, outcomes, ct);
        await tx.CommitAsync(ct);
        foreach (var sale in sales.Values)
        {
            metrics.SaleSettled(sale.Invoice.PlanCode, sale.Invoice.Provider, sale.Split.Sale.Value);
            if (sale.Split.Affiliate.Value > 0) metrics.CommissionEarned(sale.Split.Affiliate.Value);
            logger.LogInformation("Settled invoice {InvoiceId}: {Sale} sats, owner {Owner}, affiliate {Affiliate}",
                sale.Invoice.Id, sale.Split.Sale.Value, sale.Split.Owner.Value, sale.Split.Affiliate.Value);
        }
        return outcomes;
    }

    private static SettlementResult Result(Sale sale, bool replayed) =>
        new(sale.Invoice.Id, sale.Subscription.Id, sale.Posting.Id, sale.Invoice.SettledAt!.Value, sale.From, sale.To,
            sale.Split.Sale, sale.Split.Owner, sale.Split.Affiliate, sale.Buyer.ReferrerId, replayed);

    /// <summary>The claimed invoices' effects, in order: subscription, split, posting, commission, outbox.</summary>
    private async Task<Dictionary<Guid, Sale>> SettleClaimedAsync(Dictionary<Guid, Invoice> invoices, List<Guid> claimedIds, DateTimeOffset now, CancellationToken ct)
    {
        var sales = new Dictionary<Guid, Sale>();
        if (claimedIds.Count == 0) return sales;
        var claimedInvoices = claimedIds.Select(id => invoices[id]).ToList();
        var subscriptionIds = claimedInvoices.Select(i => i.SubscriptionId).Distinct().OrderBy(id => id).ToArray();
        // Several invoices of one subscription (renewals, duplicate purchases) may settle at once: on PostgreSQL take the
        // row locks first (in id order, so two batches never wait on each other in a cycle) so they queue here instead
        // of failing their optimistic check over and over. SQLite already holds the database's write lock since the claim.
        if (db.IsPostgres)
            await db.Database.ExecuteSqlInterpolatedAsync($"SELECT 1 FROM subscriptions WHERE id = ANY({subscriptionIds}) ORDER BY id FOR UPDATE", ct);
        var subscriptions = await db.Subscriptions.Where(s => subscriptionIds.Contains(s.Id))
            .AsTracking(db.IsPostgres ? QueryTrackingBehavior.NoTracking : QueryTrackingBehavior.TrackAll).ToDictionaryAsync(s => s.Id, ct);
        var buyerIds = claimedInvoices.Select(i => i.UserId).Distinct().ToList();
        var buyers = await db.Users.AsNoTracking().Where(u => buyerIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, ct);

        var options = affiliateOptions.Value;
        var holdDays = options.HoldDays;
        var referred = claimedInvoices.Select(i => buyers[i.UserId]).Where(b => b.ReferrerId is not null).Select(b => (b, b.ReferrerId!.Value)).ToList();
        // Fraud guard: a commission between people who look like one person waits for the admin, in `pending`.
        var identities = options.HoldSharedIdentity && referred.Count > 0 ? await FraudGuards.SharedIdentityCheck.LoadAsync(db, referred, ct) : null;
        var rateBefore = new Dictionary<Guid, CommissionRate>();
        var lastSale = new Dictionary<Guid, Guid>();
        // Each affiliate's precomputed standing (counts, score) moves with its sales: upserts on that affiliate's own rows.
        var standings = new List<(Guid AffiliateId, Guid BuyerId, long SaleSats)>();
        var rows = new NewRows(db);

        foreach (var invoice in claimedInvoices)
        {
            var subscription = subscriptions.GetValueOrDefault(invoice.SubscriptionId)
                ?? throw new InvalidOperationException($"Subscription {invoice.SubscriptionId} of invoice {invoice.Id} does not exist.");
            var (from, to) = subscription.Extend(TimeSpan.FromDays(invoice.DurationDays), now);
            var buyer = buyers.GetValueOrDefault(invoice.UserId) ?? throw new InvalidOperationException($"Buyer {invoice.UserId} of invoice {invoice.Id} does not exist.");

            CommissionRate? rate = null;
            if (buyer.ReferrerId is { } referrerId)
            {
                // A tier may be reached by this batch's earlier sale of the same affiliate: write those first so the rate sees them.
                if (rates.HasTiers && lastSale.ContainsKey(referrerId))
                {
                    await AffiliateStandings.OnSalesAsync(db, rates.Weights, standings, now, ct);
                    standings.Clear();
                    await rows.SaveAsync(ct);
                }
                var current = await rates.ForAsync(db, referrerId, ct);
                rateBefore.TryAdd(referrerId, current);
                rate = current;
                lastSale[referrerId] = invoice.Id;
            }
            var split = Split.Of(invoice.Amount, rate?.Bps);
            var reviewReason = identities is not null && buyer.ReferrerId is { } suspect ? await identities.ReasonAsync(db, buyer, suspect, invoice, ct) : null;

            var entries = new List<(string, Sats)> { (Accounts.CustomerPayments, -split.Sale) };
            if (split.Owner > Sats.Zero) entries.Add((Accounts.OwnerRevenue, split.Owner));
            if (split.Affiliate > Sats.Zero)
            {
                var bucket = holdDays == 0 && reviewReason is null ? Accounts.AffiliateAvailable(buyer.ReferrerId!.Value) : Accounts.AffiliatePending(buyer.ReferrerId!.Value);
                entries.Add((bucket, split.Affiliate));
            }
            var posting = rows.Add(LedgerBook.Create($"settle:{invoice.Provider}:{invoice.ProviderInvoiceId}", "sale", now, entries,
                invoice.Id, rate?.Bps, rate?.TierName));

            invoice.PeriodStart = from;
            invoice.PeriodEnd = to;
            invoice.SettlementPostingId = posting.Id;
            rows.Updated(invoice, subscription);

            if (buyer.ReferrerId is { } affiliateId)
            {
                standings.Add((affiliateId, buyer.Id, split.Sale.Value));
                rows.Add(new Commission
                {
                    Id = Guid.CreateVersion7(now),
                    AffiliateId = affiliateId,
                    BuyerId = buyer.Id,
                    InvoiceId = invoice.Id,
                    PlanCode = invoice.PlanCode,
                    SaleSats = split.Sale.Value,
                    RateBps = split.RateBps,
                    TierName = rate?.TierName,
                    AmountSats = split.Affiliate.Value,
                    State = reviewReason is not null ? CommissionState.HeldForReview : holdDays == 0 ? CommissionState.Available : CommissionState.Pending,
                    CreatedAt = now,
                    AvailableAt = now.AddDays(holdDays),
                    PostingId = posting.Id,
                    ReviewReason = reviewReason,
                });
            }

            QueueEffects(rows, invoice, subscription, split, buyer.ReferrerId, renewal: subscription.StartsAt < from, now);
            sales[invoice.Id] = new Sale(invoice, subscription, buyer, split, posting, from, to, reviewReason);
        }
        await AffiliateStandings.OnSalesAsync(db, rates.Weights, standings, now, ct);
        await rows.SaveAsync(ct);

        foreach (var sale in sales.Values.Where(s => s.ReviewReason is not null))
        {
            await Operations.AdminFlags.RaiseAsync(db, FraudGuards.CommissionHeldFlag, $"commission-held:{sale.Invoice.Id:D}", $"affiliate {sale.Buyer.ReferrerId:D}",
                $"The commission of {sale.Split.Affiliate.Value} sats on invoice {sale.Invoice.Id:D} is held for review: {sale.ReviewReason}. " +
                "Release or reverse it with POST /api/v1/admin/commissions/{id}/release|reverse.", now, ct);
        }
        // One tier-up check per affiliate, after all of the batch's sales: from the rate before its first sale here.
        foreach (var (affiliateId, before) in rateBefore)
            await TierUps.QueueIfRaisedAsync(db, rates, affiliateId, before, lastSale[affiliateId], now, ct);
        return sales;
    }

    /// <summary>Records each request's event (INSERT … ON CONFLICT DO NOTHING, one statement): a duplicate delivery neither fails the transaction nor adds a row.</summary>
    private async Task RecordEventsAsync(IReadOnlyList<SettlementRequest> requests, DateTimeOffset now, CancellationToken ct)
    {
        var at = db.Time(now);
        var sql = new System.Text.StringBuilder("INSERT INTO payment_events (provider, event_id, invoice_id, kind, received_at, processed_at, outcome, attempts) VALUES ");
        var parameters = new List<object> { at };
        foreach (var (request, i) in requests.Select((r, i) => (r, i)))
        {
            if (i > 0) sql.Append(", ");
            var p = parameters.Count;
            sql.Append(System.Globalization.CultureInfo.InvariantCulture, $"({{{p}}}, {{{p + 1}}}, {{{p + 2}}}, {{{p + 3}}}, {{0}}, {{0}}, 'settle', 1)");
            parameters.Add(request.Evidence.Provider);
            parameters.Add(request.Evidence.EventId);
            parameters.Add(request.InvoiceId);
            parameters.Add(request.Evidence.Kind);
        }
        sql.Append(" ON CONFLICT (provider, event_id) DO NOTHING");
        await db.Database.ExecuteSqlRawAsync(sql.ToString(), parameters, ct);
    }

    private static void QueueEffects(NewRows rows, Invoice invoice, Subscription subscription, SaleSplit split, Guid? affiliateId, bool renewal, DateTimeOffset now)
    {
        var id = invoice.Id.ToString("D");
        rows.Add(OutboxWriter.Create("payment.settled", $"payment.settled:{id}", new
        {
            InvoiceId = id,
            UserId = invoice.UserId.ToString("D"),
            SubscriptionId = subscription.Id.ToString("D"),
            Plan = invoice.PlanCode,
            invoice.Provider,
            AmountSats = split.Sale.Value,
            OwnerShareSats = split.Owner.Value,
            AffiliateShareSats = split.Affiliate.Value,
        }, now));
        var subscriptionEvent = renewal ? "subscription.renewed" : "subscription.activated";
        rows.Add(OutboxWriter.Create(subscriptionEvent, $"{subscriptionEvent}:{id}", new
        {
            SubscriptionId = subscription.Id.ToString("D"),
            UserId = invoice.UserId.ToString("D"),
            Plan = invoice.PlanCode,
            subscription.StartsAt,
            subscription.ExpiresAt,
            InvoiceId = id,
        }, now));
        if (affiliateId is { } affiliate && split.Affiliate > Sats.Zero)
        {
            rows.Add(OutboxWriter.Create("commission.earned", $"commission.earned:{id}", new
            {
                AffiliateId = affiliate.ToString("D"),
                AmountSats = split.Affiliate.Value,
                RateBps = split.RateBps,
                InvoiceId = id,
                Plan = invoice.PlanCode,
            }, now));
        }
    }

    /// <summary>
    /// The rows a batch adds (postings with their entries, commissions, outbox messages) and changes (invoices,
    /// subscriptions). On PostgreSQL they are written with one statement per table (<see cref="BulkInsert"/>, and
    /// <c>UPDATE … FROM unnest(…)</c>: a batch of 64 sales wrote ~700 single-row statements through EF); the rows it
    /// updates are locked (the invoices by the claim, the subscriptions by <c>FOR UPDATE</c>), so no version check is
    /// needed, but every update must find its row. On SQLite they go through the context.
    /// </summary>
    private sealed class NewRows(SatsubDbContext db)
    {
        private readonly List<LedgerPosting> postings = [];
        private readonly List<Commission> commissions = [];
        private readonly List<OutboxMessage> messages = [];
        private readonly Dictionary<Guid, Invoice> invoices = [];
        private readonly Dictionary<Guid, Subscription> subscriptions = [];

        /// <summary>The invoice and its subscription were changed (tracked on SQLite; written by <see cref="SaveAsync"/> on PostgreSQL).</summary>
        public void Updated(Invoice invoice, Subscription subscription)
        {
            if (!db.IsPostgres) return;
            invoices[invoice.Id] = invoice;
            subscriptions[subscription.Id] = subscription;
        }

        public LedgerPosting Add(LedgerPosting posting)
        {
            if (db.IsPostgres) postings.Add(posting);
            else db.LedgerPostings.Add(posting);
            return posting;
        }

        public void Add(Commission commission)
        {
            if (db.IsPostgres) commissions.Add(commission);
            else db.Commissions.Add(commission);
        }

        public void Add(OutboxMessage message)
        {
            if (db.IsPostgres) messages.Add(message);
            else db.OutboxMessages.Add(message);
        }

        private async Task UpdateInvoicesAsync(CancellationToken ct)
        {
            if (invoices.Count == 0) return;
            var list = invoices.Values.ToList();
            var updated = await db.Database.ExecuteSqlRawAsync(
                "UPDATE invoices AS i SET period_start = v.period_start, period_end = v.period_end, settlement_posting_id = v.posting_id " +
                "FROM unnest({0}::uuid[], {1}::timestamptz[], {2}::timestamptz[], {3}::uuid[]) AS v(id, period_start, period_end, posting_id) WHERE i.id = v.id",
                [list.Select(i => i.Id).ToArray(), list.Select(i => i.PeriodStart!.Value.ToUniversalTime()).ToArray(),
                 list.Select(i => i.PeriodEnd!.Value.ToUniversalTime()).ToArray(), list.Select(i => i.SettlementPostingId!.Value).ToArray()], ct);
            if (updated != list.Count) throw new InvalidOperationException($"Settlement updated {updated} of {list.Count} invoices.");
        }

        private async Task UpdateSubscriptionsAsync(CancellationToken ct)
        {
            if (subscriptions.Count == 0) return;
            var list = subscriptions.Values.ToList();
            var updated = await db.Database.ExecuteSqlRawAsync(
                "UPDATE subscriptions AS s SET status = v.status, starts_at = v.starts_at, expires_at = v.expires_at " +
                "FROM unnest({0}::uuid[], {1}::text[], {2}::timestamptz[], {3}::timestamptz[]) AS v(id, status, starts_at, expires_at) WHERE s.id = v.id",
                [list.Select(x => x.Id).ToArray(), list.Select(x => EnumNames.ToSnake(x.Status)).ToArray(),
                 list.Select(x => x.StartsAt?.ToUniversalTime()).ToArray(), list.Select(x => x.ExpiresAt?.ToUniversalTime()).ToArray()], ct);
            if (updated != list.Count) throw new InvalidOperationException($"Settlement updated {updated} of {list.Count} subscriptions.");
        }

        /// <summary>Writes what was added so far, then saves the context (in this order: the invoices refer to the postings).</summary>
        public async Task SaveAsync(CancellationToken ct)
        {
            if (db.IsPostgres)
            {
                await BulkInsert.InsertAsync(db, postings, ct);
                await BulkInsert.InsertAsync(db, postings.SelectMany(p => p.Entries).ToList(), ct);
                await BulkInsert.InsertAsync(db, commissions, ct);
                await BulkInsert.InsertAsync(db, messages, ct);
                await UpdateInvoicesAsync(ct);
                await UpdateSubscriptionsAsync(ct);
                postings.Clear();
                commissions.Clear();
                messages.Clear();
                invoices.Clear();
                subscriptions.Clear();
            }
            await db.SaveChangesAsync(ct);
        }
    }

    private async Task<Dictionary<Guid, SettlementResult>> ExistingResultsAsync(List<Invoice> settled, CancellationToken ct)
    {
        var results = new Dictionary<Guid, SettlementResult>();
        if (settled.Count == 0) return results;
        var ids = settled.Select(i => i.Id).ToList();
        var commissions = await db.Commissions.AsNoTracking().Where(c => ids.Contains(c.InvoiceId)).ToDictionaryAsync(c => c.InvoiceId, ct);
        foreach (var invoice in settled)
        {
            if (invoice.SettlementPostingId is not { } postingId || invoice.SettledAt is not { } settledAt)
                throw new InvalidOperationException($"Invoice {invoice.Id} is settled but has no settlement posting.");
            var commission = commissions.GetValueOrDefault(invoice.Id);
            var sale = invoice.Amount;
            var affiliateShare = new Sats(commission?.AmountSats ?? 0);
            results[invoice.Id] = new SettlementResult(invoice.Id, invoice.SubscriptionId, postingId, settledAt,
                invoice.PeriodStart!.Value, invoice.PeriodEnd!.Value, sale, sale - affiliateShare, affiliateShare,
                commission?.AffiliateId, Replayed: true);
        }
        return results;
    }
}
