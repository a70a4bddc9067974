using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Data;

namespace Satsub.Ledger;

/// <summary>A user's commission balances, derived from the ledger's entries.</summary>
public readonly record struct AffiliateBalance(Sats Pending, Sats Available, Sats Paid)
{
    public Sats Earned => Pending + Available + Paid;
}

/// <summary>Writes balanced postings and reads balances. Balances are always sums of entries: no counters.</summary>
public static class LedgerBook
{
    /// <summary>
    /// Adds a posting to the context (the caller's transaction commits it). Throws when the entries do not
    /// sum to zero, an entry is zero, or an account appears twice.
    /// </summary>
    public static LedgerPosting Post(SatsubDbContext db, string idempotencyKey, string kind, DateTimeOffset at,
        IReadOnlyList<(string Account, Sats Amount)> entries, Guid? invoiceId = null, int? rateBps = null, string? tierName = null)
    {
        var posting = Create(idempotencyKey, kind, at, entries, invoiceId, rateBps, tierName);
        db.LedgerPostings.Add(posting);
        return posting;
    }

    /// <summary>A checked posting with its entries, not yet added to any context (<see cref="Post"/> adds it; a batch writer may insert it).</summary>
    public static LedgerPosting Create(string idempotencyKey, string kind, DateTimeOffset at,
        IReadOnlyList<(string Account, Sats Amount)> entries, Guid? invoiceId = null, int? rateBps = null, string? tierName = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        if (entries.Count < 2) throw new ArgumentException("A posting has at least two entries.", nameof(entries));
        var sum = Sats.Zero;
        foreach (var (_, amount) in entries)
        {
            if (amount == Sats.Zero) throw new ArgumentException("A ledger entry is never zero.", nameof(entries));
            sum += amount;
        }
        if (sum != Sats.Zero) throw new InvalidOperationException($"Posting {idempotencyKey} does not balance: its entries sum to {sum}.");
        if (entries.Select(e => e.Account).Distinct(StringComparer.Ordinal).Count() != entries.Count)
            throw new ArgumentException("An account appears twice in one posting.", nameof(entries));

        var posting = new LedgerPosting
        {
            Id = Guid.CreateVersion7(at),
            IdempotencyKey = idempotencyKey,
            Kind = kind,
            CreatedAt = at,
            InvoiceId = invoiceId,
            RateBps = rateBps,
            TierName = tierName,
        };
        foreach (var (account, amount) in entries)
            posting.Entries.Add(new LedgerEntry { PostingId = posting.Id, Account = account, AmountSats = amount.Value });
        return posting;
    }

    public static async Task<Sats> BalanceAsync(SatsubDbContext db, string account, CancellationToken ct) =>
        new(await db.LedgerEntries.Where(e => e.Account == account).SumAsync(e => (long?)e.AmountSats, ct) ?? 0);

    public static async Task<AffiliateBalance> AffiliateBalanceAsync(SatsubDbContext db, Guid userId, CancellationToken ct)
    {
        string pending = Accounts.AffiliatePending(userId), available = Accounts.AffiliateAvailable(userId), paid = Accounts.AffiliatePaid(userId);
        var sums = await db.LedgerEntries
            .Where(e => e.Account == pending || e.Account == available || e.Account == paid)
            .GroupBy(e => e.Account)
            .Select(g => new { Account = g.Key, Sum = g.Sum(e => e.AmountSats) })
            .ToDictionaryAsync(x => x.Account, x => x.Sum, ct);
        return new AffiliateBalance(
            new Sats(sums.GetValueOrDefault(pending)),
            new Sats(sums.GetValueOrDefault(available)),
            new Sats(sums.GetValueOrDefault(paid)));
    }

    /// <summary>Every account's balance; the sum over all accounts is zero in a healthy ledger.</summary>
    public static async Task<Dictionary<string, long>> AllBalancesAsync(SatsubDbContext db, CancellationToken ct) =>
        await db.LedgerEntries.GroupBy(e => e.Account)
            .Select(g => new { g.Key, Sum = g.Sum(e => e.AmountSats) })
            .ToDictionaryAsync(x => x.Key, x => x.Sum, StringComparer.Ordinal, ct);

    /// <summary>Postings whose entries do not sum to zero (there should never be any).</summary>
    public static async Task<List<Guid>> UnbalancedPostingsAsync(SatsubDbContext db, CancellationToken ct) =>
        await db.LedgerEntries.GroupBy(e => e.PostingId)
            .Where(g => g.Sum(e => e.AmountSats) != 0)
            .Select(g => g.Key)
            .ToListAsync(ct);
}
