using CsCheck;
using Microsoft.EntityFrameworkCore;
using Satsub.Settlement;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Affiliates;
using Satsub.Affiliates.Rating;
using Satsub.Affiliates.Standings;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Refunds;
using Satsub.Tests.Fixtures;
using Satsub.Users;

namespace Satsub.Tests.Affiliates;

public sealed class StandingsSqliteFixture() : DatabaseFixture(DbKind.Sqlite)
{
    protected override IDictionary<string, string?> Settings => StandingsPostgresFixture.Config;
}

public sealed class StandingsPostgresFixture() : DatabaseFixture(DbKind.Postgres)
{
    // Commissions available at once (so pay-with-earnings has something to spend); shared identities held for review.
    public static readonly Dictionary<string, string?> Config = new()
    {
        ["Affiliate:HoldDays"] = "0",
        ["Affiliate:HoldSharedIdentity"] = "true",
    };

    protected override IDictionary<string, string?> Settings => Config;
}

public sealed class StandingsTests_Sqlite(StandingsSqliteFixture fx) : StandingsTests<StandingsSqliteFixture>(fx);

public sealed class StandingsTests_Postgres(StandingsPostgresFixture fx) : StandingsTests<StandingsPostgresFixture>(fx)
{
    [Fact]
    public async Task ConcurrentSettlements_ForOneAffiliatesReferrals_CountExactly()
    {
        var affiliate = await App.RegisterAsync();
        var buyers = new List<User>();
        for (var i = 0; i < 12; i++) buyers.Add(await App.RegisterAsync(affiliate.ReferralCode));
        // Two invoices per buyer (two plans, so two subscriptions): the same buyer's first sales race each other too.
        var invoices = new List<Invoice>();
        foreach (var b in buyers)
        {
            invoices.Add(await App.BuyAsync(b.Id));
            invoices.Add(await App.BuyAsync(b.Id, "premium"));
        }

        await Task.WhenAll(invoices.Select(i => Task.Run(() => App.SettleAsync(i.Id))));
        // And a few refunds racing more sales of the same buyers.
        var more = new List<Invoice>();
        foreach (var b in buyers.Take(4)) more.Add(await App.BuyAsync(b.Id));
        await Task.WhenAll(more.Select(i => (Task)Task.Run(() => App.SettleAsync(i.Id)))
            .Concat(invoices.Where((_, n) => n % 2 == 1).Take(6).Select(i => (Task)Task.Run(() =>
                App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(i.Id, "test", default))))));

        var row = await App.DbAsync(db => db.AffiliateStandings.AsNoTracking().SingleAsync(s => s.AffiliateId == affiliate.Id));
        // 12 buyers paid; 24 + 4 sales of which 6 premium were refunded: 22 count, still 12 customers.
        Assert.Equal((12, 12, 12, 22), (row.ReferredUsers, row.PayingReferrals, row.PayingCustomers, row.Sales));
        Assert.Equal(16 * 10_000 + 6 * 25_001, row.ReferredSalesSats);
        Assert.Equal(ScoreWeights.From(new RatingOptions()).Score(12, 22, row.ReferredSalesSats), row.Score);
        await AssertMatchesSourceAsync();
    }
}

/// <summary>
/// The precomputed standings against a recompute from the source tables (commissions, invoices, users) after random
/// histories of every writer, and their places against the leaderboard's definition, before and after the rank job.
/// </summary>
public abstract class StandingsTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    protected SatsubServices App => fx.App;
    private static readonly ScoreWeights Weights = ScoreWeights.From(new RatingOptions());

    private enum Op { Register, Sale, SuspectSale, BatchSale, Refund, Release, Reverse, PayWithEarnings, Hide, Unhide, Erase, NextWeek, RankJob }

    [Fact]
    public async Task RandomHistories_KeepEveryStandingEqualToARecomputeFromSource()
    {
        var ops = Gen.Enum<Op>();
        var step = Gen.Select(ops, Gen.Int[0, 1_000_000], Gen.Int[0, 1_000_000]);
        await step.Array[15, 45].SampleAsync(async history =>
        {
            var users = new List<User> { await App.RegisterAsync(), await App.RegisterAsync() };
            foreach (var (op, a, b) in history) await ApplyAsync(op, a, b, users);
            await AssertMatchesSourceAsync();
            await RunRankJobAsync();
            await AssertMatchesSourceAsync(ranksStored: true);
        }, iter: 12, threads: 1);

        // A rebuild from source gives the same rows the writers kept.
        var before = await RowsAsync();
        await App.DbAsync(async db => { await AffiliateStandings.RebuildAsync(db, Weights, App.Clock.GetUtcNow(), default); return 0; });
        var after = await RowsAsync();
        Assert.Equal(before.All.Where(r => r.Value.Sales > 0 || r.Value.ReferredUsers > 0).OrderBy(r => r.Key).Select(r => r.Value with { Rank = null }),
            after.All.OrderBy(r => r.Key).Select(r => r.Value with { Rank = null }));
        // (Past months keep the places stored while they were current; only the current month is ranked.)
        Assert.Equal(before.Months.Where(r => r.Value.Sales > 0).OrderBy(r => r.Key).Select(r => r.Value with { Rank = null }),
            after.Months.Where(r => r.Value.Sales > 0).OrderBy(r => r.Key).Select(r => r.Value with { Rank = null }));
        await AssertMatchesSourceAsync(ranksStored: true);
    }

    [Fact]
    public async Task StoredPlaces_StayExact_WhenOthersOvertakeAfterTheRankJob()
    {
        var leader = await App.RegisterAsync();
        var chaser = await App.RegisterAsync();
        await SellAsync(leader, 3);
        await SellAsync(chaser, 1);
        await RunRankJobAsync();
        var leaderBefore = await PlaceAsync(leader.Id);
        Assert.True(leaderBefore < await PlaceAsync(chaser.Id));

        // The chaser overtakes: the leader's stored place is now stale, yet the read is exact.
        await SellAsync(chaser, 4);
        Assert.Equal(leaderBefore + 1, await PlaceAsync(leader.Id));
        Assert.Equal(leaderBefore, await PlaceAsync(chaser.Id));
        await AssertMatchesSourceAsync();
        await RunRankJobAsync();
        Assert.Equal(leaderBefore + 1, await PlaceAsync(leader.Id));
        var stored = await App.DbAsync(async db =>
        {
            var row = await db.AffiliateStandings.AsNoTracking().SingleAsync(s => s.AffiliateId == leader.Id);
            var place = await db.AffiliateScorePlaces.AsNoTracking().Where(p => p.Month == 0 && p.Score == row.RankedScore).Select(p => (int?)p.Place).SingleAsync();
            return (place, row.RankDirty);
        });
        Assert.Equal((leaderBefore + 1, false), stored);
    }

    [Fact]
    public async Task Startup_RebuildsWhenTheTablesAreEmpty_AndTheRankJobSkipsWhenNothingChanged()
    {
        var affiliate = await App.RegisterAsync();
        await SellAsync(affiliate, 2);
        await App.DbAsync(async db =>
        {
            foreach (var table in new[] { "affiliate_score_places", "affiliate_month_standings", "affiliate_standings", "affiliate_month_customers", "affiliate_customers" })
            {
                var sql = "DELETE FROM " + table;
                await db.Database.ExecuteSqlRawAsync(sql);
            }
            return 0;
        });
        Assert.True(await App.DbAsync(db => AffiliateStandings.NeedsRebuildAsync(db, default)));

        await StandingsStartup.RunAsync(App.Services, default);

        Assert.False(await App.DbAsync(db => AffiliateStandings.NeedsRebuildAsync(db, default)));
        await AssertMatchesSourceAsync(ranksStored: true);
        Assert.Equal(0, await App.DbAsync(db => AffiliateStandings.RankAsync(db, null, App.Clock.GetUtcNow(), default)));
    }

    [Fact]
    public async Task Startup_AfterTheUpgradeToPlacesPerScore_StoresThem_AndReadsAreExactBeforeAndAfter()
    {
        var leader = await App.RegisterAsync();
        var chaser = await App.RegisterAsync();
        // Few sales: the other tests of the class share the database and expect no one above three customers.
        await SellAsync(leader, 2);
        await SellAsync(chaser, 1);
        await RunRankJobAsync();
        await SellAsync(chaser, 1);
        // What migration "ScorePlaces" leaves: no ranked score and no place per score (the chaser's change is still dirty).
        await App.DbAsync(async db =>
        {
            await db.Database.ExecuteSqlRawAsync("UPDATE affiliate_standings SET ranked_score = NULL");
            await db.Database.ExecuteSqlRawAsync("UPDATE affiliate_month_standings SET ranked_score = NULL");
            return await db.Database.ExecuteSqlRawAsync("DELETE FROM affiliate_score_places");
        });
        Assert.True(await App.DbAsync(db => AffiliateStandings.NeedsScorePlacesAsync(db, default)));

        await StandingsStartup.RunAsync(App.Services, default);

        Assert.False(await App.DbAsync(db => AffiliateStandings.NeedsScorePlacesAsync(db, default)));
        await AssertMatchesSourceAsync(ranksStored: true);
        await SellAsync(chaser, 1);
        await AssertMatchesSourceAsync();
        await RunRankJobAsync();
        await AssertMatchesSourceAsync(ranksStored: true);
    }

    private async Task SellAsync(User affiliate, int customers)
    {
        for (var i = 0; i < customers; i++)
        {
            var buyer = await App.RegisterAsync(affiliate.ReferralCode);
            await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
        }
    }

    private Task<int?> PlaceAsync(Guid id) =>
        App.WithAsync<Leaderboard, int?>(async l => (await l.OfAsync(id, LeaderboardPeriod.All, default))?.Rank);

    private Task RunRankJobAsync() => App.DbAsync(async db =>
    {
        var now = App.Clock.GetUtcNow();
        return await AffiliateStandings.RankAsync(db, null, now, default) + await AffiliateStandings.RankAsync(db, AffiliateStandings.MonthOf(now), now, default);
    });

    private async Task ApplyAsync(Op op, int a, int b, List<User> users)
    {
        User Pick(int n) => users[n % users.Count];
        async Task<List<Invoice>> SettledAsync() => await App.DbAsync(db => db.Invoices.AsNoTracking()
            .Where(i => i.Status == InvoiceStatus.Settled && !db.Refunds.Any(r => r.InvoiceId == i.Id)).OrderBy(i => i.Id).ToListAsync());
        async Task<List<Commission>> HeldAsync() => await App.DbAsync(db => db.Commissions.AsNoTracking()
            .Where(c => c.State == CommissionState.HeldForReview).OrderBy(c => c.Id).ToListAsync());
        try
        {
            switch (op)
            {
                case Op.Register:
                    users.Add(await App.RegisterAsync(a % 4 == 0 ? null : Pick(b).ReferralCode));
                    break;
                case Op.Sale:
                    await App.SettleAsync((await App.BuyAsync(Pick(a).Id, b % 3 == 0 ? "premium" : "basic")).Id);
                    break;
                case Op.BatchSale:
                    // Several sales in one settlement batch (as the payment inbox settles them), some of one buyer twice
                    // and of one affiliate's several referrals: the batch's standings are written together.
                    var batch = new List<SettlementRequest>();
                    for (var k = 0; k < 2 + a % 4; k++)
                    {
                        var invoice = await App.BuyAsync(Pick(k % 2 == 0 ? b : b + k).Id, (a + k) % 3 == 0 ? "premium" : "basic");
                        batch.Add(new SettlementRequest(invoice.Id, new PaymentEvidence(invoice.Provider, $"batch-{invoice.Id:N}")));
                    }
                    var outcomes = await App.WithAsync<SettlementService, IReadOnlyList<SettlementOutcome>>(x => x.SettleBatchAsync(batch, default));
                    Assert.All(outcomes, o => Assert.Null(o.Error));
                    break;
                case Op.SuspectSale:
                    // The buyer shares the referrer's payout destination: the fraud guard holds the commission for review.
                    var buyer = Pick(a);
                    if (buyer.ReferrerId is { } referrer)
                    {
                        var wallet = $"w{a}@wallet.example";
                        await App.DbAsync(db => db.Users.Where(u => u.Id == buyer.Id || u.Id == referrer)
                            .ExecuteUpdateAsync(s => s.SetProperty(u => u.PayoutDestination, wallet)));
                    }
                    await App.SettleAsync((await App.BuyAsync(buyer.Id)).Id);
                    break;
                case Op.Refund:
                    var settled = await SettledAsync();
                    if (settled.Count > 0)
                        await App.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(settled[a % settled.Count].Id, "test", default));
                    break;
                case Op.Release or Op.Reverse:
                    var held = await HeldAsync();
                    if (held.Count == 0) break;
                    var id = held[a % held.Count].Id;
                    await App.WithAsync<CommissionReview, Commission>(r => op == Op.Release ? r.ReleaseAsync(id, default) : r.ReverseAsync(id, default));
                    break;
                case Op.PayWithEarnings:
                    var payer = Pick(a);
                    if ((await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, payer.Id, default))).Available.Value >= 10_000)
                        await App.PayWithEarningsAsync(payer.Id, null);
                    break;
                case Op.Hide or Op.Unhide or Op.Erase:
                    var target = Pick(a).Id;
                    await App.DbAsync(async db =>
                    {
                        var user = await db.Users.SingleAsync(u => u.Id == target);
                        if (op == Op.Erase) user.Erase(App.Clock.GetUtcNow());
                        else user.HiddenFromLeaderboard = op == Op.Hide;
                        await UsersApi.SaveAsync(db, user, visibilityChanged: true, default);
                        return 0;
                    });
                    break;
                case Op.NextWeek:
                    App.Clock.Advance(TimeSpan.FromDays(1 + b % 9));
                    break;
                case Op.RankJob:
                    await RunRankJobAsync();
                    break;
            }
        }
        catch (DomainException)
        {
            // Refused by a rule (an erased buyer, a short balance…): nothing changed, which the check below confirms.
        }
    }

    private sealed record Expected(int ReferredUsers, int PayingReferrals, int PayingCustomers, int Sales, long Sats, long Score, bool Visible, int? Rank);

    private async Task<(Dictionary<Guid, Expected> All, Dictionary<(Guid, int), Expected> Months)> RowsAsync() => await App.DbAsync(async db =>
    {
        var all = await db.AffiliateStandings.AsNoTracking().ToListAsync();
        var months = await db.AffiliateMonthStandings.AsNoTracking().ToListAsync();
        // A stored place: the place of the score the row was ranked with (none: not ranked).
        var places = (await db.AffiliateScorePlaces.AsNoTracking().ToListAsync()).ToDictionary(p => (p.Month, p.Score), p => (int?)p.Place);
        int? Stored(int month, long? rankedScore) => rankedScore is { } score ? places.GetValueOrDefault((month, score)) : null;
        return (all.ToDictionary(r => r.AffiliateId, r => new Expected(r.ReferredUsers, r.PayingReferrals, r.PayingCustomers, r.Sales, r.ReferredSalesSats, r.Score,
                r.Visible, Stored(0, r.RankedScore))),
            months.ToDictionary(r => (r.AffiliateId, r.Month), r => new Expected(0, 0, r.PayingCustomers, r.Sales, r.ReferredSalesSats, r.Score, r.Visible,
                Stored(r.Month, r.RankedScore))));
    });

    /// <summary>Every standing equals a recompute from the source tables with the old definitions; every place is the leaderboard's.</summary>
    protected async Task AssertMatchesSourceAsync(bool ranksStored = false)
    {
        var (users, commissions, paying) = await App.DbAsync(async db => (
            await db.Users.AsNoTracking().Select(u => new { u.Id, u.ReferrerId, Visible = !u.HiddenFromLeaderboard && u.ErasedAt == null }).ToListAsync(),
            await db.Commissions.AsNoTracking().ToListAsync(),
            // The profile's old definition: referred users with a settled invoice.
            await db.Users.AsNoTracking().Where(u => u.ReferrerId != null && db.Invoices.Any(i => i.UserId == u.Id && i.Status == InvoiceStatus.Settled))
                .GroupBy(u => u.ReferrerId!.Value).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count)));
        var visible = users.ToDictionary(u => u.Id, u => u.Visible);
        var counted = commissions.Where(c => c.State is not (CommissionState.ClawedBack or CommissionState.Reversed)).ToList();
        var month = AffiliateStandings.MonthOf(App.Clock.GetUtcNow());

        Expected Of(IEnumerable<Commission> sales, Guid affiliate, int referred, int payingReferrals)
        {
            var list = sales.ToList();
            int customers = list.Select(c => c.BuyerId).Distinct().Count(), count = list.Count;
            long sats = list.Sum(c => c.SaleSats);
            return new Expected(referred, payingReferrals, customers, count, sats, Weights.Score(customers, count, sats), visible[affiliate], null);
        }

        var expectedAll = users.Select(u => u.Id).ToDictionary(id => id, id => Of(counted.Where(c => c.AffiliateId == id), id,
            users.Count(u => u.ReferrerId == id), paying.GetValueOrDefault(id)));
        var expectedMonths = counted.GroupBy(c => (c.AffiliateId, AffiliateStandings.MonthOf(c.CreatedAt)))
            .ToDictionary(g => g.Key, g => Of(g, g.Key.AffiliateId, 0, 0));
        var (actualAll, actualMonths) = await RowsAsync();

        foreach (var (id, expected) in expectedAll)
        {
            var actual = actualAll.GetValueOrDefault(id);
            if (actual is null)
            {
                Assert.True(expected is { ReferredUsers: 0, Sales: 0, PayingReferrals: 0 }, $"no standing for {id}, expected {expected}");
                continue;
            }
            Assert.Equal(expected, actual with { Rank = null });
        }
        foreach (var key in expectedMonths.Keys.Union(actualMonths.Where(m => m.Value.Sales > 0).Select(m => m.Key)))
        {
            Assert.True(expectedMonths.TryGetValue(key, out var expected), $"unexpected month standing {key}");
            Assert.True(actualMonths.TryGetValue(key, out var actual), $"missing month standing {key}");
            Assert.Equal(expected, actual with { Rank = null });
        }

        // Places: 1 + the number of visible affiliates with sales scoring strictly higher (ties share a place).
        async Task CheckPlacesAsync(LeaderboardPeriod period, IReadOnlyDictionary<Guid, Expected> expected, IReadOnlyDictionary<Guid, Expected> actual)
        {
            var ranked = expected.Where(e => e.Value.Visible && e.Value.Sales > 0).ToList();
            var top = await App.WithAsync<Leaderboard, IReadOnlyList<Standing>>(l => l.TopAsync(period, 100, default));
            Assert.Equal(Math.Min(100, ranked.Count), top.Count);
            foreach (var (id, e) in expected)
            {
                int? place = e.Visible && e.Sales > 0 ? 1 + ranked.Count(r => r.Value.Score > e.Score) : null;
                var of = await App.WithAsync<Leaderboard, Standing?>(l => l.OfAsync(id, period, default));
                Assert.Equal(place, of?.Rank);
                if (of is not null) Assert.Equal((e.Score, e.PayingCustomers, e.Sats), (of.Score, of.PayingCustomers, of.ReferredSalesSats));
                if (top.SingleOrDefault(t => t.AffiliateId == id) is { } listed) Assert.Equal(place, listed.Rank);
                if (ranksStored) Assert.Equal(place, actual.GetValueOrDefault(id)?.Rank);
            }
        }
        await CheckPlacesAsync(LeaderboardPeriod.All, expectedAll, actualAll);
        await CheckPlacesAsync(LeaderboardPeriod.Month,
            expectedMonths.Where(m => m.Key.Item2 == month).ToDictionary(m => m.Key.AffiliateId, m => m.Value),
            actualMonths.Where(m => m.Key.Item2 == month).ToDictionary(m => m.Key.Item1, m => m.Value));

        // The profile reads the same standing: counts, and the place (null for users who are nobody's affiliate).
        var ranked = expectedAll.Values.Where(e => e.Visible && e.Sales > 0).ToList();
        foreach (var (id, e) in expectedAll.OrderByDescending(e => e.Value.Sales).Take(40).Concat(expectedAll.Where(e => e.Value.ReferredUsers == 0).Take(10)))
        {
            var profile = await App.DbAsync(db => AffiliateStandings.ProfileAsync(db, id, default));
            int? place = e.Visible && e.Sales > 0 ? 1 + ranked.Count(r => r.Score > e.Score) : null;
            Assert.Equal((e.ReferredUsers, e.PayingReferrals, e.PayingCustomers, e.Sats, place),
                (profile.ReferredUsers, profile.PayingReferrals, profile.PayingCustomers, profile.ReferredSalesSats, profile.Rank));
        }
    }
}
