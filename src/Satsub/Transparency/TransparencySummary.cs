using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Affiliates;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payouts;

namespace Satsub.Transparency;

public sealed record TierRule(string Name, int? MinPayingCustomers, long? MinReferredSalesSats, int BonusBps, int AffiliateBps, int OwnerBps);

/// <summary>The published split rule: one level only (the direct referrer), base rates, hold period and bonus tiers.</summary>
public sealed record SplitRules(int AffiliateBaseBps, int OwnerBaseBps, int HoldDays, int Levels, IReadOnlyList<TierRule> Tiers);

/// <summary>Totals to date, straight from the ledger.</summary>
public sealed record TransparencyTotals(
    int SalesCount,
    long SalesSats,
    int RefundsCount,
    long RefundsSats,
    long OwnerShareSats,
    long CommissionsAccruedSats,
    long CommissionsPendingSats,
    long CommissionsAvailableSats,
    long CommissionsInFlightSats,
    long CommissionsPaidSats,
    int PayoutsCount,
    long PayoutFeesSats);

/// <summary>One month of the chart: sales less refunds and how they split.</summary>
public sealed record MonthPoint(string Month, int SalesCount, long SalesSats, long OwnerShareSats, long AffiliateShareSats);

public sealed record TransparencySnapshot(SplitRules Rules, TransparencyTotals Totals, IReadOnlyList<MonthPoint> Months, DateTimeOffset AsOf);

/// <summary>
/// What the public transparency page, its JSON twin and the bot's <c>/transparency</c> screen show. The bot calls
/// <see cref="GetAsync"/> and links to <see cref="PageUrl"/>.
/// </summary>
public sealed class TransparencySummary(SatsubDbContext db, IOptions<AffiliateOptions> affiliate, IOptions<TransparencyOptions> options, TimeProvider clock)
{
    public const int ChartMonths = 12;

    /// <summary>The public page's address: absolute when <c>Transparency:PublicUrl</c> is set.</summary>
    public string PageUrl => string.IsNullOrWhiteSpace(options.Value.PublicUrl) ? "/transparency" : options.Value.PublicUrl.TrimEnd('/') + "/transparency";

    public SplitRules Rules()
    {
        var o = affiliate.Value;
        var tiers = o.Tiers.Select(t => new TierRule(t.Name, t.MinPayingCustomers, t.MinReferredSalesSats, t.BonusBps,
            o.BaseBps + t.BonusBps, 10_000 - o.BaseBps - t.BonusBps)).ToList();
        return new SplitRules(o.BaseBps, 10_000 - o.BaseBps, o.HoldDays, 1, tiers);
    }

    public async Task<TransparencyTotals> TotalsAsync(CancellationToken ct)
    {
        var balances = await db.LedgerEntries.GroupBy(e => e.Account)
            .Select(g => new { g.Key, Sum = g.Sum(e => e.AmountSats) })
            .ToListAsync(ct);
        long owner = 0, pending = 0, available = 0, inFlight = 0, paid = 0, fees = 0;
        foreach (var b in balances)
        {
            if (b.Key == Accounts.OwnerRevenue) owner = b.Sum;
            else if (b.Key == Accounts.PayoutsInFlight) inFlight = b.Sum;
            else if (b.Key == PayoutAccounts.Fees) fees = b.Sum;
            else if (b.Key.StartsWith("affiliate:", StringComparison.Ordinal) && b.Key.EndsWith(":pending", StringComparison.Ordinal)) pending += b.Sum;
            else if (b.Key.StartsWith("affiliate:", StringComparison.Ordinal) && b.Key.EndsWith(":available", StringComparison.Ordinal)) available += b.Sum;
            else if (b.Key.StartsWith("affiliate:", StringComparison.Ordinal) && b.Key.EndsWith(":paid", StringComparison.Ordinal)) paid += b.Sum;
        }

        var byKind = await db.LedgerPostings.Where(p => p.Kind == "sale" || p.Kind == "refund" || p.Kind == "payout_settle")
            .GroupBy(p => p.Kind).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct);
        int Count(string kind) => byKind.FirstOrDefault(k => k.Key == kind)?.Count ?? 0;

        // What customers paid on sales, and what refunds gave back, from the customer_payments side of those postings.
        var customer = await db.LedgerEntries.Where(e => e.Account == Accounts.CustomerPayments)
            .Join(db.LedgerPostings, e => e.PostingId, p => p.Id, (e, p) => new { p.Kind, e.AmountSats })
            .GroupBy(x => x.Kind).Select(g => new { g.Key, Sum = g.Sum(x => x.AmountSats) }).ToListAsync(ct);
        var sales = -(customer.FirstOrDefault(c => c.Key == "sale")?.Sum ?? 0);
        var refunds = customer.FirstOrDefault(c => c.Key == "refund")?.Sum ?? 0;

        var accrued = await db.LedgerEntries.Where(e => e.Account.StartsWith("affiliate:"))
            .Join(db.LedgerPostings.Where(p => p.Kind == "sale" || p.Kind == "refund"), e => e.PostingId, p => p.Id, (e, p) => e.AmountSats)
            .SumAsync(a => (long?)a, ct) ?? 0;

        return new TransparencyTotals(Count("sale"), sales, Count("refund"), refunds, owner, accrued, pending, available, inFlight, paid,
            Count("payout_settle"), fees);
    }

    /// <summary>The last <see cref="ChartMonths"/> months, the current one last.</summary>
    public async Task<List<MonthPoint>> MonthsAsync(CancellationToken ct)
    {
        var current = MonthlyReports.MonthOf(clock.GetUtcNow());
        var first = current.AddMonths(-(ChartMonths - 1));
        var sums = new (int Sales, long Sats, long Owner, long Affiliate)[ChartMonths];
        // Streamed page by page and summed: twelve months of postings are never held at once.
        await foreach (var r in ReportBuilder.StreamAsync(db, MonthlyReports.StartOf(first), MonthlyReports.EndOf(current), ct))
        {
            if (r.Type is not (ReportRow.Sale or ReportRow.Refund)) continue;
            var at = MonthlyReports.MonthOf(r.Time);
            var i = (at.Year - first.Year) * 12 + at.Month - first.Month;
            sums[i] = (sums[i].Sales + (r.Type == ReportRow.Sale ? 1 : 0), sums[i].Sats + r.AmountSats, sums[i].Owner + r.OwnerShareSats,
                sums[i].Affiliate + r.AffiliateShareSats);
        }
        var points = new List<MonthPoint>(ChartMonths);
        for (var i = 0; i < ChartMonths; i++)
            points.Add(new MonthPoint(MonthlyReports.Format(first.AddMonths(i)), sums[i].Sales, sums[i].Sats, sums[i].Owner, sums[i].Affiliate));
        return points;
    }

    public async Task<TransparencySnapshot> GetAsync(CancellationToken ct) =>
        new(Rules(), await TotalsAsync(ct), await MonthsAsync(ct), clock.GetUtcNow());
}
