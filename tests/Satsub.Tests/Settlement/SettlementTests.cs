using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Settlement;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Settlement;

public sealed class SettlementTests_Sqlite(SqliteFixture fx) : SettlementTests<SqliteFixture>(fx);

public sealed class SettlementTests_Postgres(PostgresFixture fx) : SettlementTests<PostgresFixture>(fx);

public abstract class SettlementTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    [Fact]
    public async Task Settle_ReferredSale_SplitsHalfToTheReferrerAndActivatesTheSubscription()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        var invoice = await App.BuyAsync(buyer.Id, "premium");
        var now = App.Clock.GetUtcNow();

        var result = await App.SettleAsync(invoice.Id);

        Assert.False(result.Replayed);
        Assert.Equal(25_001, result.Sale.Value);
        Assert.Equal(12_500, result.AffiliateShare.Value);
        Assert.Equal(12_501, result.OwnerShare.Value); // the odd satoshi stays with the owner
        Assert.Equal(referrer.Id, result.AffiliateId);

        var balance = await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default));
        Assert.Equal(new AffiliateBalance(new Sats(12_500), Sats.Zero, Sats.Zero), balance);

        var sub = await App.DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == result.SubscriptionId));
        Assert.Equal(SubscriptionStatus.Active, sub.Status);
        Assert.Equal(now, sub.StartsAt);
        Assert.Equal(now.AddDays(30), sub.ExpiresAt);

        var stored = await App.DbAsync(db => db.Invoices.SingleAsync(i => i.Id == invoice.Id));
        Assert.Equal(InvoiceStatus.Settled, stored.Status);
        Assert.Equal(result.PostingId, stored.SettlementPostingId);

        var posting = await App.DbAsync(db => db.LedgerPostings.Include(p => p.Entries).SingleAsync(p => p.Id == result.PostingId));
        Assert.Equal("settle:sandbox:" + invoice.ProviderInvoiceId, posting.IdempotencyKey);
        Assert.Equal(0, posting.Entries.Sum(e => e.AmountSats));
        Assert.Equal(5000, posting.RateBps);
        Assert.Contains(posting.Entries, e => e.Account == Accounts.CustomerPayments && e.AmountSats == -25_001);
        Assert.Contains(posting.Entries, e => e.Account == Accounts.OwnerRevenue && e.AmountSats == 12_501);
        Assert.Contains(posting.Entries, e => e.Account == Accounts.AffiliatePending(referrer.Id) && e.AmountSats == 12_500);

        var commission = await App.DbAsync(db => db.Commissions.SingleAsync(c => c.InvoiceId == invoice.Id));
        Assert.Equal(CommissionState.Pending, commission.State);
        Assert.Equal(now.AddDays(7), commission.AvailableAt);

        var outbox = await OutboxTypesAsync(invoice.Id);
        Assert.Equal(["commission.earned", "payment.settled", "subscription.activated"], outbox);
    }

    [Fact]
    public async Task Settle_WithoutReferrer_GivesTheWholeSaleToTheOwner()
    {
        var buyer = await App.RegisterAsync();
        var invoice = await App.BuyAsync(buyer.Id);

        var result = await App.SettleAsync(invoice.Id);

        Assert.Equal(10_000, result.OwnerShare.Value);
        Assert.Equal(0, result.AffiliateShare.Value);
        Assert.Null(result.AffiliateId);
        Assert.Equal(0, await App.DbAsync(db => db.Commissions.CountAsync(c => c.InvoiceId == invoice.Id)));
        Assert.Equal(["payment.settled", "subscription.activated"], await OutboxTypesAsync(invoice.Id));
    }

    [Fact]
    public async Task Settle_WhenReplayed_ReturnsTheFirstResultAndPostsOnce()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.Id.ToString());
        var invoice = await App.BuyAsync(buyer.Id);
        var first = await App.SettleAsync(invoice.Id, $"{invoice.Id}-1");
        App.Clock.Advance(TimeSpan.FromMinutes(5));

        var again = await App.SettleAsync(invoice.Id, $"{invoice.Id}-1");
        var other = await App.SettleAsync(invoice.Id, $"{invoice.Id}-2");

        Assert.True(again.Replayed);
        Assert.True(other.Replayed);
        Assert.Equal(first with { Replayed = true }, again);
        Assert.Equal(first with { Replayed = true }, other);
        Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
        Assert.Equal(5000, (await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);
        Assert.Equal(first.PeriodEnd, (await App.DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == first.SubscriptionId))).ExpiresAt);
        Assert.Equal(3, (await OutboxTypesAsync(invoice.Id)).Count);
        // Both notifications are on record, the duplicate delivery included.
        Assert.Equal(2, await App.DbAsync(db => db.PaymentEvents.CountAsync(e => e.InvoiceId == invoice.Id)));
    }

    [Fact]
    public async Task Settle_RenewalWhileActive_ExtendsFromTheCurrentExpiry()
    {
        var buyer = await App.RegisterAsync();
        var first = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        App.Clock.Advance(TimeSpan.FromDays(10));

        var renewalInvoice = await App.BuyAsync(buyer.Id);
        Assert.Equal(first.SubscriptionId, renewalInvoice.SubscriptionId);
        var renewal = await App.SettleAsync(renewalInvoice.Id);

        Assert.Equal(first.PeriodEnd, renewal.PeriodStart);
        Assert.Equal(first.PeriodEnd.AddDays(30), renewal.PeriodEnd);
        Assert.Contains("subscription.renewed", await OutboxTypesAsync(renewalInvoice.Id));
    }

    [Fact]
    public async Task Settle_AfterExpiry_StartsANewPeriodNow()
    {
        var buyer = await App.RegisterAsync();
        var first = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        App.Clock.Advance(TimeSpan.FromDays(45));
        var now = App.Clock.GetUtcNow();

        var later = await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);

        Assert.Equal(first.SubscriptionId, later.SubscriptionId);
        Assert.Equal(now, later.PeriodStart);
        Assert.Equal(now.AddDays(30), later.PeriodEnd);
    }

    [Fact]
    public async Task Settle_UnknownInvoice_Throws() =>
        await Assert.ThrowsAsync<UnknownInvoiceException>(() => App.SettleAsync(Guid.NewGuid()));

    [Fact]
    public async Task Settle_EvidenceFromAnotherProvider_IsRefusedAndChangesNothing()
    {
        var buyer = await App.RegisterAsync();
        var invoice = await App.BuyAsync(buyer.Id);

        await Assert.ThrowsAsync<SettlementRefusedException>(() => App.WithAsync<SettlementService, SettlementResult>(s =>
            s.SettleAsync(invoice.Id, new PaymentEvidence("btcpay", "forged"))));

        Assert.Equal(InvoiceStatus.New, (await App.DbAsync(db => db.Invoices.SingleAsync(i => i.Id == invoice.Id))).Status);
        Assert.Equal(0, await App.DbAsync(db => db.PaymentEvents.CountAsync(e => e.InvoiceId == invoice.Id)));
    }

    [Fact]
    public async Task Settle_TwentyTimesConcurrently_PostsOnceExtendsOnceAndQueuesOnce()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        var invoice = await App.BuyAsync(buyer.Id, "premium");
        var now = App.Clock.GetUtcNow();

        // Half the deliveries repeat one event id, half carry their own: both kinds of duplicate.
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Task.Run(() => App.SettleAsync(invoice.Id, i % 2 == 0 ? $"{invoice.Id}-same" : $"{invoice.Id}-{i}"))));

        Assert.Single(results, r => !r.Replayed);
        Assert.All(results, r => Assert.Equal(results[0].PostingId, r.PostingId));
        Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
        Assert.Equal(1, await App.DbAsync(db => db.Commissions.CountAsync(c => c.InvoiceId == invoice.Id)));
        Assert.Equal(3, (await OutboxTypesAsync(invoice.Id)).Count);
        Assert.Equal(11, await App.DbAsync(db => db.PaymentEvents.CountAsync(e => e.InvoiceId == invoice.Id)));
        var sub = await App.DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == invoice.SubscriptionId));
        Assert.Equal(now.AddDays(30), sub.ExpiresAt);
        Assert.Equal(12_500, (await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);
    }

    [Fact]
    public async Task Settle_TwoInvoicesOfOneSubscriptionConcurrently_ExtendsByBothPeriods()
    {
        var buyer = await App.RegisterAsync();
        var a = await App.BuyAsync(buyer.Id);
        var b = await App.BuyAsync(buyer.Id);
        Assert.Equal(a.SubscriptionId, b.SubscriptionId);
        var now = App.Clock.GetUtcNow();

        await Task.WhenAll(Task.Run(() => App.SettleAsync(a.Id)), Task.Run(() => App.SettleAsync(b.Id)));

        var sub = await App.DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == a.SubscriptionId));
        Assert.Equal(now.AddDays(60), sub.ExpiresAt);
    }

    [Fact]
    public async Task Ledger_AfterEverything_EveryPostingBalancesAndAllAccountsSumToZero()
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);

        Assert.Empty(await App.DbAsync(db => LedgerBook.UnbalancedPostingsAsync(db, default)));
        var balances = await App.DbAsync(db => LedgerBook.AllBalancesAsync(db, default));
        Assert.Equal(0, balances.Values.Sum());
        var sales = await App.DbAsync(db => db.Invoices.Where(i => i.Status == InvoiceStatus.Settled).SumAsync(i => i.AmountSats));
        Assert.Equal(-sales, balances[Accounts.CustomerPayments]);
    }

    private Task<List<string>> OutboxTypesAsync(Guid invoiceId)
    {
        var suffix = ":" + invoiceId.ToString("D");
        return App.DbAsync(db => db.OutboxMessages.Where(m => m.DedupeKey.EndsWith(suffix)).OrderBy(m => m.Type).Select(m => m.Type).ToListAsync());
    }
}
