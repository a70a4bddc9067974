using CsCheck;
using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Settlement;

public sealed class SettlementReplayProperties_Sqlite(SqliteFixture fx) : SettlementReplayProperties<SqliteFixture>(fx, iterations: 25);

public sealed class SettlementReplayProperties_Postgres(PostgresFixture fx) : SettlementReplayProperties<PostgresFixture>(fx, iterations: 15);

/// <summary>
/// Any sequence of settlements — in any order, each delivered any number of times, some concurrently —
/// ends in the same balances: those of settling each invoice exactly once.
/// </summary>
public abstract class SettlementReplayProperties<TFixture>(TFixture fx, int iterations) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private static readonly string[] PlanCodes = ["basic", "premium"];
    private static readonly Dictionary<string, long> Prices = new() { ["basic"] = 10_000, ["premium"] = 25_001 };

    /// <summary>A small world: users whose referrer (if any) is an earlier user, purchases, and a delivery schedule.</summary>
    private sealed record World(int?[] Referrers, (int Buyer, int Plan)[] Purchases, (int Purchase, int Copies, bool Parallel)[] Deliveries);

    private static readonly Gen<World> Worlds =
        from userCount in Gen.Int[2, 6]
        from referrers in Gen.Int[0, 100].Array[userCount]
        from purchases in Gen.Select(Gen.Int[0, userCount - 1], Gen.Int[0, 1]).Array[1, 8]
        from deliveries in Gen.Select(Gen.Int[0, 99], Gen.Int[1, 3], Gen.Bool).Array[0, 20]
        select new World(
            referrers.Select((r, i) => i == 0 || r < 30 ? (int?)null : r % i).ToArray(),
            purchases,
            deliveries.Select(d => (d.Item1 % purchases.Length, d.Item2, d.Item3)).ToArray());

    [Fact]
    public Task Settlements_InAnyOrderAndAnyNumberOfTimes_GiveTheBalancesOfSettlingEachOnce() =>
        Worlds.SampleAsync(async world =>
        {
            var app = fx.App;
            var users = new List<Satsub.Users.User>();
            foreach (var referrer in world.Referrers)
                users.Add(await app.RegisterAsync(referrer is { } r ? users[r].ReferralCode : null));
            var invoices = new List<Satsub.Payments.Invoice>();
            foreach (var (buyer, plan) in world.Purchases)
                invoices.Add(await app.BuyAsync(users[buyer].Id, PlanCodes[plan]));

            // Deliver the schedule, then make sure every invoice was delivered at least once.
            foreach (var (purchase, copies, parallel) in world.Deliveries)
            {
                var id = invoices[purchase].Id;
                if (parallel) await Task.WhenAll(Enumerable.Range(0, copies).Select(c => Task.Run(() => app.SettleAsync(id, $"{id}-{c}"))));
                else for (var c = 0; c < copies; c++) await app.SettleAsync(id, $"{id}-{c}");
            }
            foreach (var invoice in invoices) await app.SettleAsync(invoice.Id, $"{invoice.Id}-final");

            // The model: each invoice settled exactly once, split by the rules.
            var expected = new Dictionary<string, long>();
            void Add(string account, long amount) { if (amount != 0) expected[account] = expected.GetValueOrDefault(account) + amount; }
            foreach (var (buyer, plan) in world.Purchases)
            {
                var sale = Prices[PlanCodes[plan]];
                var referrer = world.Referrers[buyer];
                var split = Split.Of(new Sats(sale), referrer is null ? null : 5000);
                Add(Accounts.CustomerPayments, -sale);
                Add(Accounts.OwnerRevenue, split.Owner.Value);
                if (referrer is { } r) Add(Accounts.AffiliatePending(users[r].Id), split.Affiliate.Value);
            }

            var ids = invoices.Select(i => (Guid?)i.Id).ToList();
            var actual = await app.DbAsync(db => db.LedgerEntries
                .Where(e => db.LedgerPostings.Any(p => p.Id == e.PostingId && ids.Contains(p.InvoiceId)))
                .GroupBy(e => e.Account).Select(g => new { g.Key, Sum = g.Sum(e => e.AmountSats) })
                .ToDictionaryAsync(x => x.Key, x => x.Sum));
            Assert.Equal(expected.OrderBy(kv => kv.Key, StringComparer.Ordinal), actual.OrderBy(kv => kv.Key, StringComparer.Ordinal));
            Assert.Equal(invoices.Count, await app.DbAsync(db => db.LedgerPostings.CountAsync(p => ids.Contains(p.InvoiceId))));

            // Each subscription was extended once per distinct invoice of it (the clock does not move here).
            var now = app.Clock.GetUtcNow();
            foreach (var group in invoices.GroupBy(i => i.SubscriptionId))
            {
                var sub = await app.DbAsync(db => db.Subscriptions.SingleAsync(s => s.Id == group.Key));
                Assert.Equal(now.AddDays(30 * group.Count()), sub.ExpiresAt);
            }

            // And the whole ledger still balances.
            Assert.Empty(await app.DbAsync(db => LedgerBook.UnbalancedPostingsAsync(db, default)));
            Assert.Equal(0, (await app.DbAsync(db => LedgerBook.AllBalancesAsync(db, default))).Values.Sum());
        }, iter: iterations, threads: 1);
}
