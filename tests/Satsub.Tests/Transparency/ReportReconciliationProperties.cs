using CsCheck;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Satsub.Affiliates;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Payouts;
using Satsub.Refunds;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payouts;
using Satsub.Transparency;
using Satsub.Users;

namespace Satsub.Tests.Transparency;

/// <summary>Pays every payout at once with a fee that depends on the amount, so fees of both policies show in the books.</summary>
public sealed class FeePayingPayoutProvider : IPayoutProvider
{
    public string Name => Satsub.Payouts.Providers.Sandbox.SandboxPayoutProvider.ProviderName;

    public Task<PayoutAttempt> SendAsync(Payout payout, CancellationToken ct) =>
        Task.FromResult(Attempt(payout));

    public Task<PayoutAttempt?> LookupAsync(Payout payout, CancellationToken ct) => Task.FromResult<PayoutAttempt?>(Attempt(payout));

    private static PayoutAttempt Attempt(Payout payout)
    {
        var fee = payout.AmountSats % 13;
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(payout.Id.ToByteArray()));
        return payout.AmountSats % 2 == 0
            ? PayoutAttempt.Sent(payout.AmountSats - fee, fee, paymentHash: hash)
            : PayoutAttempt.Sent(payout.AmountSats - fee, fee, txid: hash);
    }
}

public abstract class ReportFixture(DbKind kind, string feePolicy) : DatabaseFixture(kind)
{
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Payouts:AutoApproveMaxSats"] = "6000",
        ["Payouts:FeePolicy"] = feePolicy,
        ["Payouts:DailyCapSats"] = "100000000",
        ["Affiliate:HoldDays"] = "7",
        ["Transparency:SigningKeyWif"] = ReportSignerTests.Wif,
    };

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.RemoveAll<IPayoutProvider>();
        services.AddSingleton<IPayoutProvider, FeePayingPayoutProvider>();
    }
}

public sealed class ReportSqliteFixture() : ReportFixture(DbKind.Sqlite, "affiliate");

public sealed class ReportPostgresFixture() : ReportFixture(DbKind.Postgres, "owner");

public sealed class ReportReconciliationProperties_Sqlite(ReportSqliteFixture fx) : ReportReconciliationProperties<ReportSqliteFixture>(fx)
{
    protected override int Iterations => 25;
}

public sealed class ReportReconciliationProperties_Postgres(ReportPostgresFixture fx) : ReportReconciliationProperties<ReportPostgresFixture>(fx)
{
    protected override int Iterations => 10;
}

public abstract class ReportReconciliationProperties<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : ReportFixture
{
    public enum Op
    {
        Sale,
        SaleWithoutReferrer,
        Wait,
        ReleaseHolds,
        Refund,
        Request,
        Approve,
        Reject,
        Process,
    }

    protected abstract int Iterations { get; }

    private SatsubServices App => fx.App;

    /// <summary>
    /// Random histories over several months — sales with and without a referrer, holds released, refunds inside and after
    /// the hold (clawbacks), payouts requested, approved, rejected and sent with fees — then, for every month: the report's
    /// totals equal the ledger's movements in that month account by account (computed here independently, from the
    /// entries), its counts equal the invoices settled, refunds made and payouts sent in it, every row conserves money,
    /// the digest is the SHA-256 of the CSV, and a closed month is stored, signed and unchanged by later activity.
    /// Over all months the reports add up to the transparency totals.
    /// </summary>
    [Fact]
    public Task AnyHistory_ReportsReconcileExactlyWithTheLedger() =>
        Gen.Select(Gen.Enum<Op>(), Gen.Int[0, 1_000], Gen.Int[0, 1_000]).Array[4, 25]
            .SampleAsync(async ops =>
            {
                var affiliates = new[] { await App.RegisterAsync(), await App.RegisterAsync() };
                var sales = new List<Guid>();
                var payouts = new List<Guid>();
                var closedBefore = await App.DbAsync(db => db.ClosedReports.AsNoTracking().ToListAsync());
                foreach (var (op, a, b) in ops) await StepAsync(op, a, b, affiliates, sales, payouts);
                await CheckAsync(closedBefore);
            }, iter: Iterations, threads: 1);

    private async Task StepAsync(Op op, int a, int b, User[] affiliates, List<Guid> sales, List<Guid> payouts)
    {
        var affiliate = affiliates[a % affiliates.Length];
        Guid? payout = payouts.Count == 0 ? null : payouts[b % payouts.Count];
        try
        {
            switch (op)
            {
                case Op.Sale:
                    sales.Add(await SellAsync(affiliate.ReferralCode, b % 3 == 0 ? "premium" : "basic"));
                    break;
                case Op.SaleWithoutReferrer:
                    sales.Add(await SellAsync(null, "basic"));
                    break;
                case Op.Wait:
                    // Up to ~25 days: histories cross month ends, sometimes by minutes.
                    App.Clock.Advance(TimeSpan.FromMinutes(1 + a * 37 + b));
                    break;
                case Op.ReleaseHolds:
                    App.Clock.Advance(TimeSpan.FromDays(1 + a % 8));
                    await App.WithAsync<HoldRelease, int>(h => h.ReleaseDueAsync(default));
                    break;
                case Op.Refund when sales.Count > 0:
                    await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(sales[b % sales.Count], "property", default));
                    break;
                case Op.Request:
                    var requested = await App.RequestAsync(affiliate.Id, b % 4 == 0 ? null : 1_000 + b * 7);
                    payouts.Add(requested.Id);
                    break;
                case Op.Approve when payout is not null:
                    await App.WithAsync<PayoutService, Payout>(s => s.ApproveAsync(payout.Value, default));
                    break;
                case Op.Reject when payout is not null:
                    await App.WithAsync<PayoutService, Payout>(s => s.RejectAsync(payout.Value, "property", default));
                    break;
                case Op.Process:
                    await App.ProcessAsync();
                    break;
            }
        }
        catch (DomainException e) when (e.Code is "insufficient_balance" or "below_minimum" or "invalid_payout_state" or "invoice_not_settled")
        {
            // A refused step is part of a random history.
        }
    }

    private async Task<Guid> SellAsync(string? referral, string plan)
    {
        var buyer = await App.RegisterAsync(referral);
        var invoice = await App.BuyAsync(buyer.Id, plan);
        await App.SettleAsync(invoice.Id);
        return invoice.Id;
    }

    private sealed record Movement(DateTimeOffset At, string Kind, string Account, long Amount);

    private async Task CheckAsync(List<ClosedReport> closedBefore)
    {
        var movements = await App.DbAsync(db => db.LedgerEntries.AsNoTracking()
            .Join(db.LedgerPostings, e => e.PostingId, p => p.Id, (e, p) => new Movement(p.CreatedAt, p.Kind, e.Account, e.AmountSats))
            .ToListAsync());
        var settled = await App.DbAsync(db => db.Invoices.AsNoTracking().Where(i => i.SettledAt != null).Select(i => new { SettledAt = i.SettledAt!.Value, i.AmountSats }).ToListAsync());
        var refunds = await App.DbAsync(db => db.Refunds.AsNoTracking().Select(r => new { r.CreatedAt, r.AmountSats }).ToListAsync());
        var sent = await App.DbAsync(db => db.Payouts.AsNoTracking().Where(p => p.Status == PayoutStatus.Sent).Select(p => new { p.Id, p.PaymentHash, p.Txid }).ToListAsync());

        var current = MonthlyReports.MonthOf(App.Clock.GetUtcNow());
        // A history whose operations all came to nothing (no sale, every request refused) has no movement: the current month still reports.
        var first = movements.Count == 0 ? current : MonthlyReports.MonthOf(movements.Min(m => m.At));
        var sum = new long[10];
        for (var month = first; month <= current; month = month.AddMonths(1))
        {
            var (start, end) = (MonthlyReports.StartOf(month), MonthlyReports.EndOf(month));
            var report = (await App.ReportAsync(month))!;
            var t = report.Totals;
            var inMonth = movements.Where(m => m.At >= start && m.At < end).ToList();
            long Delta(Func<string, bool> account) => inMonth.Where(m => account(m.Account)).Sum(m => m.Amount);

            Assert.Equal(-Delta(a => a == Accounts.CustomerPayments), t.SalesSats - t.RefundsSats);
            Assert.Equal(Delta(a => a == Accounts.OwnerRevenue), t.OwnerShareSats);
            Assert.Equal(Delta(a => a == Accounts.PayoutsInFlight || (a.StartsWith("affiliate:", StringComparison.Ordinal) && !a.EndsWith(":paid", StringComparison.Ordinal))),
                t.AffiliateBalanceChangeSats);
            Assert.Equal(Delta(a => a.StartsWith("affiliate:", StringComparison.Ordinal) && a.EndsWith(":paid", StringComparison.Ordinal)), t.PayoutsSats);
            Assert.Equal(Delta(a => a == PayoutAccounts.Fees), t.PayoutFeesSats);
            Assert.Equal(settled.Count(i => i.SettledAt >= start && i.SettledAt < end), t.SalesCount);
            Assert.Equal(settled.Where(i => i.SettledAt >= start && i.SettledAt < end).Sum(i => i.AmountSats), t.SalesSats);
            Assert.Equal(refunds.Count(r => r.CreatedAt >= start && r.CreatedAt < end), t.RefundsCount);
            Assert.Equal(refunds.Where(r => r.CreatedAt >= start && r.CreatedAt < end).Sum(r => r.AmountSats), t.RefundsSats);
            Assert.Equal(inMonth.Count(m => m.Kind == "payout_settle" && m.Account == Accounts.PayoutsInFlight), t.PayoutsCount);

            foreach (var row in report.Rows)
            {
                Assert.True(row.Time >= start && row.Time < end);
                if (row.Type is ReportRow.Sale or ReportRow.Refund)
                {
                    Assert.Equal(row.AmountSats, row.OwnerShareSats + row.AffiliateShareSats);
                    Assert.NotNull(row.Plan);
                }
                else
                {
                    Assert.Equal(ReportRow.Payout, row.Type);
                    Assert.Equal(0, row.OwnerShareSats + row.AffiliateShareSats + row.AmountSats + row.FeeSats);
                    Assert.NotNull(row.Affiliate);
                    Assert.Contains(sent, p => p.PaymentHash == row.PaymentHash && p.Txid == row.Txid);
                }
            }
            Assert.Equal(ReportCsv.Sha256Hex(report.Csv), report.Sha256);
            Assert.Equal(t, ReportTotals.Of(report.Rows));
            Assert.Equal(report.Csv, ReportCsv.Write(report.Rows));

            Assert.Equal(month < current && App.Clock.GetUtcNow() >= end.AddMinutes(10), report.Closed);
            if (report.Closed)
            {
                Assert.NotNull(report.Signature);
                Assert.Equal(ReportCsv.SignedMessage(report.Month, report.Sha256), report.Signature!.Message);
                Assert.True(ReportSigner.Verify(report.Signature, NBitcoin.Network.Main));
                if (closedBefore.FirstOrDefault(c => c.Month == report.Month) is { } before)
                {
                    Assert.Equal(before.Sha256, report.Sha256);
                    Assert.Equal(await App.DbAsync(db => db.StoredCsvAsync(report.Month)), report.Csv);
                    Assert.Equal(before.Signature, report.Signature.Signature);
                }
            }
            else
            {
                Assert.Null(report.Signature);
            }

            long[] add = [t.SalesCount, t.SalesSats, t.RefundsCount, t.RefundsSats, t.OwnerShareSats, t.CommissionsAccruedSats, t.PayoutsCount, t.PayoutsSats,
                t.PayoutFeesSats, t.AffiliateBalanceChangeSats];
            for (var i = 0; i < sum.Length; i++) sum[i] += add[i];
        }

        var totals = await App.WithAsync<TransparencySummary, TransparencyTotals>(s => s.TotalsAsync(default));
        Assert.Equal(
            [totals.SalesCount, totals.SalesSats, totals.RefundsCount, totals.RefundsSats, totals.OwnerShareSats, totals.CommissionsAccruedSats,
                totals.PayoutsCount, totals.CommissionsPaidSats, totals.PayoutFeesSats,
                totals.CommissionsPendingSats + totals.CommissionsAvailableSats + totals.CommissionsInFlightSats],
            sum);
        Assert.Equal(sent.Count, totals.PayoutsCount);
    }
}
