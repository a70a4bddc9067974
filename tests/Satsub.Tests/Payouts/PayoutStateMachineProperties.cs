using System.Collections.Concurrent;
using CsCheck;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Satsub.Affiliates;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Payouts;
using Satsub.Payouts.Providers.Manual;
using Satsub.Payouts.Providers.Sandbox;
using Satsub.Refunds;
using Satsub.Tests.Fixtures;
using Satsub.Users;

namespace Satsub.Tests.Payouts;

/// <summary>
/// A payout provider the test scripts: it pays, fails without paying, pays but loses the answer (a time-out), or
/// throws before anything left. It remembers what it paid, answers lookups from that, and counts any attempt to pay a
/// payout it already paid.
/// </summary>
public sealed class ScriptedPayoutProvider : IPayoutProvider
{
    public enum Mode
    {
        Pay,
        Fail,
        PayButTimeOut,
        Throw,
    }

    public Mode Next { get; set; } = Mode.Pay;

    public ConcurrentDictionary<Guid, PayoutAttempt> Paid { get; } = new();

    public int DoublePayAttempts;

    public string Name => SandboxPayoutProvider.ProviderName;

    public Task<PayoutAttempt> SendAsync(Payout payout, CancellationToken ct)
    {
        switch (Next)
        {
            case Mode.Fail:
                return Task.FromResult(PayoutAttempt.Failed("scripted failure"));
            case Mode.Throw:
                throw new HttpRequestException("connection refused");
        }
        var attempt = PayoutAttempt.Sent(payout.AmountSats, 0, paymentHash: Convert.ToHexStringLower(payout.Id.ToByteArray()) + new string('0', 32));
        if (!Paid.TryAdd(payout.Id, attempt)) Interlocked.Increment(ref DoublePayAttempts);
        return Task.FromResult(Next == Mode.PayButTimeOut ? PayoutAttempt.InFlight() : attempt);
    }

    public Task<PayoutAttempt?> LookupAsync(Payout payout, CancellationToken ct) =>
        Task.FromResult(Paid.TryGetValue(payout.Id, out var a) ? a : null);
}

public abstract class PayoutMachineFixture(DbKind kind) : DatabaseFixture(kind)
{
    public ScriptedPayoutProvider Provider { get; } = new();

    // The default 7-day hold, so releases and refunds inside and after the hold both happen.
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Payouts:AutoApproveMaxSats"] = "8000" };

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.RemoveAll<IPayoutProvider>();
        services.AddSingleton<IPayoutProvider>(Provider);
        services.AddSingleton<IPayoutProvider, ManualPayoutProvider>();
    }
}

public sealed class PayoutMachineSqliteFixture() : PayoutMachineFixture(DbKind.Sqlite);

public sealed class PayoutMachinePostgresFixture() : PayoutMachineFixture(DbKind.Postgres);

public sealed class PayoutStateMachineProperties_Sqlite(PayoutMachineSqliteFixture fx) : PayoutStateMachineProperties<PayoutMachineSqliteFixture>(fx)
{
    protected override int Iterations => 60;
}

public sealed class PayoutStateMachineProperties_Postgres(PayoutMachinePostgresFixture fx) : PayoutStateMachineProperties<PayoutMachinePostgresFixture>(fx)
{
    protected override int Iterations => 20;
}

public abstract class PayoutStateMachineProperties<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : PayoutMachineFixture
{
    public enum Op
    {
        Sale,
        ReleaseHolds,
        Refund,
        Request,
        Approve,
        Reject,
        Process,
        ProviderFails,
        ProviderTimesOut,
        ProviderThrows,
        CrashAfterClaim,
        Reconcile,
        PayWithEarnings,
        SuspiciousSale,
        ReviewRelease,
        ReviewReverse,
    }

    private static readonly string[] ExpectedRefusals =
        ["insufficient_balance", "below_minimum", "invalid_payout_state", "daily_cap_reached", "invoice_not_settled", "commission_not_held"];

    protected abstract int Iterations { get; }

    private SatsubServices App => fx.App;

    private ScriptedPayoutProvider Provider => fx.Provider;

    /// <summary>
    /// Random sequences of sales, hold releases, refunds, payout requests, approvals, rejections, provider failures,
    /// time-outs and crashes, purchases paid with earnings, and sales a fraud guard holds for review (then released or
    /// reversed by the admin). After every step: no satoshi created or lost, every posting balanced, customer payments
    /// equal sales less refunds, in-flight money equals open payouts, available never negative but through a flagged
    /// clawback, each payout's postings match its state; at the end every payout is sent, failed or rejected, and
    /// none was paid twice.
    /// </summary>
    [Fact]
    public Task AnySequence_KeepsTheBooksAndPaysEachPayoutAtMostOnce() =>
        Gen.Select(Gen.Enum<Op>(), Gen.Int[0, 1_000], Gen.Int[0, 1_000]).Array[5, 30]
            .SampleAsync(async ops =>
            {
                Interlocked.Exchange(ref Provider.DoublePayAttempts, 0);
                // The second affiliate was referred by the first: their purchases with earnings earn the first a commission.
                var first = await App.RegisterAsync();
                var affiliates = new[] { first, await App.RegisterAsync(first.ReferralCode) };
                var sales = new List<Guid>();
                var payouts = new List<Guid>();
                // Some money to start with: two sales each, past their hold.
                foreach (var affiliate in affiliates)
                    for (var i = 0; i < 2; i++) sales.Add(await App.SellAsync(affiliate));
                await StepAsync(Op.ReleaseHolds, 7, 0, affiliates, sales, payouts);
                foreach (var (op, a, b) in ops)
                {
                    await StepAsync(op, a, b, affiliates, sales, payouts);
                    await CheckAsync(affiliates, payouts);
                }
                await SettleEverythingAsync(payouts);
                await CheckAsync(affiliates, payouts);

                var final = await App.DbAsync(db => db.Payouts.AsNoTracking().Where(p => payouts.Contains(p.Id)).ToListAsync());
                foreach (var p in final)
                {
                    Assert.Contains(p.Status, new[] { PayoutStatus.Sent, PayoutStatus.Failed, PayoutStatus.Rejected });
                    Assert.Equal(p.Status == PayoutStatus.Sent, Provider.Paid.ContainsKey(p.Id));
                }
                Assert.Equal(0, Provider.DoublePayAttempts);
                foreach (var affiliate in affiliates)
                {
                    var paid = final.Where(p => p.UserId == affiliate.Id && p.Status == PayoutStatus.Sent).Sum(p => p.AmountSats);
                    Assert.Equal(paid, (await App.BalanceAsync(affiliate.Id)).Paid.Value);
                }
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
                    sales.Add(await App.SellAsync(affiliate));
                    break;
                case Op.ReleaseHolds:
                    App.Clock.Advance(TimeSpan.FromDays(1 + a % 8));
                    await App.WithAsync<HoldRelease, int>(h => h.ReleaseDueAsync(default));
                    break;
                case Op.Refund when sales.Count > 0:
                    await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(sales[b % sales.Count], "property", default));
                    break;
                case Op.Request:
                    await App.RequestAsync(affiliate.Id, b % 4 == 0 ? null : 1_000 + b * 10)
                        .ContinueWith(t => { if (t.IsCompletedSuccessfully) payouts.Add(t.Result.Id); return t; }).Unwrap();
                    break;
                case Op.Approve when payout is not null:
                    await App.WithAsync<PayoutService, Payout>(s => s.ApproveAsync(payout.Value, default));
                    break;
                case Op.Reject when payout is not null:
                    await App.WithAsync<PayoutService, Payout>(s => s.RejectAsync(payout.Value, "property", default));
                    break;
                case Op.Process:
                    await ProcessWithAsync(ScriptedPayoutProvider.Mode.Pay);
                    break;
                case Op.ProviderFails:
                    await ProcessWithAsync(ScriptedPayoutProvider.Mode.Fail);
                    break;
                case Op.ProviderTimesOut:
                    await ProcessWithAsync(ScriptedPayoutProvider.Mode.PayButTimeOut);
                    break;
                case Op.ProviderThrows:
                    await ProcessWithAsync(ScriptedPayoutProvider.Mode.Throw);
                    break;
                case Op.CrashAfterClaim:
                    // Claimed, maybe paid, and then the process died: nothing recorded after the claim.
                    var approved = await App.DbAsync(db => db.Payouts.Where(p => payouts.Contains(p.Id) && p.Status == PayoutStatus.Approved)
                        .OrderBy(p => p.RequestedAt).Select(p => p.Id).ToListAsync());
                    if (approved.Count == 0) break;
                    var claimed = await App.WithAsync<PayoutProcessor, Payout?>(p => p.ClaimAsync(approved[b % approved.Count], default));
                    if (claimed is not null && a % 2 == 0)
                    {
                        Provider.Next = ScriptedPayoutProvider.Mode.Pay;
                        await Provider.SendAsync(claimed, default);
                    }
                    break;
                case Op.Reconcile:
                    App.Clock.Advance(TimeSpan.FromMinutes(5));
                    await ProcessWithAsync(ScriptedPayoutProvider.Mode.Pay);
                    break;
                case Op.PayWithEarnings:
                    var (_, paid) = await App.WithAsync<PayWithEarnings, (Satsub.Subscriptions.Subscription, Satsub.Payments.Invoice)>(p =>
                        p.PayAsync(affiliate.Id, "basic", b % 3 == 0 && sales.Count > 0 ? "repeat" : null, default));
                    if (!sales.Contains(paid.Id)) sales.Add(paid.Id);
                    break;
                case Op.SuspiciousSale:
                    // The buyer gives a payout destination the affiliate was paid to: the commission is held for review.
                    var buyer = await App.RegisterAsync(affiliate.ReferralCode);
                    await App.DbAsync(db => db.Users.Where(u => u.Id == buyer.Id).ExecuteUpdateAsync(x => x.SetProperty(u => u.PayoutDestination, "alice@wallet.example")));
                    await App.DbAsync(db => db.Users.Where(u => u.Id == affiliate.Id).ExecuteUpdateAsync(x => x.SetProperty(u => u.PayoutDestination, "alice@wallet.example")));
                    var invoice = await App.BuyAsync(buyer.Id);
                    await App.SettleAsync(invoice.Id);
                    sales.Add(invoice.Id);
                    break;
                case Op.ReviewRelease or Op.ReviewReverse:
                    var held = await App.DbAsync(db => db.Commissions.Where(c => sales.Contains(c.InvoiceId) && c.ReviewReason != null)
                        .OrderBy(c => c.CreatedAt).Select(c => c.Id).ToListAsync());
                    if (held.Count == 0) break;
                    var id = held[b % held.Count];
                    await App.WithAsync<CommissionReview, Commission>(r => op == Op.ReviewRelease ? r.ReleaseAsync(id, default) : r.ReverseAsync(id, default));
                    break;
            }
        }
        catch (DomainException e) when (ExpectedRefusals.Contains(e.Code))
        {
        }
    }

    private async Task ProcessWithAsync(ScriptedPayoutProvider.Mode mode)
    {
        Provider.Next = mode;
        await App.ProcessAsync();
        Provider.Next = ScriptedPayoutProvider.Mode.Pay;
    }

    private async Task SettleEverythingAsync(List<Guid> payouts)
    {
        for (var round = 0; round < 10; round++)
        {
            var open = await App.DbAsync(db => db.Payouts.AsNoTracking()
                .Where(p => payouts.Contains(p.Id) && (p.Status == PayoutStatus.Requested || p.Status == PayoutStatus.Approved || p.Status == PayoutStatus.Sending))
                .ToListAsync());
            if (open.Count == 0) return;
            foreach (var p in open.Where(p => p.Status == PayoutStatus.Requested))
                await App.WithAsync<PayoutService, Payout>(s => s.ApproveAsync(p.Id, default));
            App.Clock.Advance(TimeSpan.FromMinutes(5));
            await ProcessWithAsync(ScriptedPayoutProvider.Mode.Pay);
        }
        Assert.Fail("payouts were still open after 10 rounds");
    }

    private async Task CheckAsync(User[] affiliates, List<Guid> payouts)
    {
        await App.DbAsync(async db =>
        {
            Assert.Empty(await LedgerBook.UnbalancedPostingsAsync(db, default));
            var balances = await LedgerBook.AllBalancesAsync(db, default);
            Assert.Equal(0, balances.Values.Sum());

            // Money from outside: sales paid with earnings move sats inside the ledger and bring none in.
            var sold = await db.Invoices.Where(i => i.SettlementPostingId != null && i.Provider != PayWithEarnings.ProviderName).SumAsync(i => (long?)i.AmountSats) ?? 0;
            var refunded = await db.Refunds.Where(r => db.Invoices.Any(i => i.Id == r.InvoiceId && i.Provider != PayWithEarnings.ProviderName))
                .SumAsync(r => (long?)r.AmountSats) ?? 0;
            Assert.Equal(-(sold - refunded), balances.GetValueOrDefault(Accounts.CustomerPayments));

            // Each sale paid with earnings has exactly one spending posting; a commission held for review was never released
            // by the worker, and one reversed went to the owner once.
            // Idempotency keys are unique, so each of these postings exists at most once: one query reads them all.
            var economyKeys = (await db.LedgerPostings
                .Where(p => p.IdempotencyKey.StartsWith("earnings:") || p.IdempotencyKey.StartsWith("review-") || p.IdempotencyKey.StartsWith("release:"))
                .Select(p => p.IdempotencyKey).ToListAsync()).ToHashSet(StringComparer.Ordinal);
            var earningsSales = await db.Invoices.Where(i => i.SettlementPostingId != null && i.Provider == PayWithEarnings.ProviderName).Select(i => i.Id).ToListAsync();
            foreach (var sale in earningsSales)
                Assert.Contains($"earnings:{sale:D}", economyKeys);
            var reviewed = await db.Commissions.Where(c => c.ReviewReason != null).Select(c => new { c.Id, c.State }).ToListAsync();
            foreach (var c in reviewed)
            {
                var left = new[] { $"release:{c.Id:D}", $"review-reverse:{c.Id:D}", $"review-release:{c.Id:D}" }.Count(economyKeys.Contains);
                if (c.State == CommissionState.HeldForReview) Assert.Equal(0, left);
                Assert.True(left <= 1, "a held commission left pending twice");
                if (c.State == CommissionState.Reversed) Assert.Contains($"review-reverse:{c.Id:D}", economyKeys);
            }

            var open = await db.Payouts.Where(p => p.Status == PayoutStatus.Requested || p.Status == PayoutStatus.Approved || p.Status == PayoutStatus.Sending)
                .SumAsync(p => (long?)p.AmountSats) ?? 0;
            Assert.Equal(open, balances.GetValueOrDefault(Accounts.PayoutsInFlight));

            foreach (var affiliate in affiliates)
            {
                var available = balances.GetValueOrDefault(Accounts.AffiliateAvailable(affiliate.Id));
                if (available < 0)
                    Assert.True(await db.AdminFlags.AnyAsync(f => f.Kind == "commission_clawback" && f.Subject == $"affiliate {affiliate.Id:D}"),
                        $"available is {available} without a flagged clawback");
            }

            var mine = await db.Payouts.AsNoTracking().Where(p => payouts.Contains(p.Id)).ToListAsync();
            var keys = await db.LedgerPostings.Where(p => p.IdempotencyKey.StartsWith("payout:")).Select(p => p.IdempotencyKey).ToListAsync();
            foreach (var p in mine)
            {
                var settled = keys.Count(k => k == $"payout:{p.Id:D}:settle");
                var returned = keys.Count(k => k == $"payout:{p.Id:D}:return");
                Assert.Equal(1, keys.Count(k => k == $"payout:{p.Id:D}:reserve"));
                Assert.Equal(p.Status == PayoutStatus.Sent ? 1 : 0, settled);
                Assert.Equal(p.Status is PayoutStatus.Failed or PayoutStatus.Rejected ? 1 : 0, returned);
                // Whatever the provider paid is never given back as failed or rejected.
                if (Provider.Paid.ContainsKey(p.Id)) Assert.Contains(p.Status, new[] { PayoutStatus.Sending, PayoutStatus.Sent });
            }
            return true;
        });
    }
}
