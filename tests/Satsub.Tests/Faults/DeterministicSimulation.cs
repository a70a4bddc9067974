using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Satsub.Affiliates;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Payments.Inbox;
using Satsub.Payments.Reconciliation;
using Satsub.Payouts;
using Satsub.Refunds;
using Satsub.Settlement;
using Satsub.Subscriptions;
using Satsub.Tests.Fixtures;
using Satsub.Users;
using Xunit.Abstractions;

namespace Satsub.Tests.Faults;

/// <summary>
/// A seeded simulation over the real handlers and a real PostgreSQL: purchases, payments, webhooks (duplicated,
/// early, late), the inbox, direct and reconciled settlements, refunds, hold releases as time passes, payout requests,
/// approvals, rejections and a wallet that fails or loses answers, provider outages — and crash points, where a unit
/// of work dies at a database command or just before or after its commit. After every step the ledger is checked
/// against a model computed from the facts by the rules. Each seed is replayable:
/// <c>SATSUB_SIM_SEED=123 dotnet test tests/Satsub.Tests --filter FullyQualifiedName~DeterministicSimulation</c>
/// (<c>SATSUB_SIM_SEEDS=N</c> runs seeds 1..N; 1,000 by default).
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class DeterministicSimulation(ITestOutputHelper output)
{
    private const int DefaultSeeds = 1_000;
    private const int Workers = 3;

    [Fact]
    public async Task RandomOperationsWithCrashPoints_KeepTheLedgerInvariantsAfterEveryStep()
    {
        var only = Environment.GetEnvironmentVariable("SATSUB_SIM_SEED");
        var count = int.TryParse(Environment.GetEnvironmentVariable("SATSUB_SIM_SEEDS"), out var n) && n > 0 ? n : DefaultSeeds;
        int[] seeds = only is not null ? [int.Parse(only, System.Globalization.CultureInfo.InvariantCulture)] : [.. Enumerable.Range(1, count)];
        var failures = new ConcurrentQueue<string>();
        long steps = 0, crashes = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Math.Min(Workers, seeds.Length)).Select(w => Task.Run(async () =>
        {
            await using var sim = await Simulator.StartAsync();
            for (var i = w; i < seeds.Length && failures.IsEmpty; i += Workers)
            {
                try
                {
                    var (s, c) = await sim.RunAsync(seeds[i]);
                    Interlocked.Add(ref steps, s);
                    Interlocked.Add(ref crashes, c);
                }
                catch (Exception ex)
                {
                    failures.Enqueue($"Simulation seed {seeds[i]} failed. Replay it with\n  SATSUB_SIM_SEED={seeds[i]} dotnet test tests/Satsub.Tests --filter FullyQualifiedName~DeterministicSimulation\n{ex.Message}\n{ex.StackTrace}");
                }
            }
        })));
        output.WriteLine($"{seeds.Length} seeds, {steps} steps, {crashes} crashes in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(failures.IsEmpty, string.Join("\n\n", failures));
    }
}

internal sealed class Simulator : IAsyncDisposable
{
    private const int Rate = 5_000; // Affiliate:BaseBps, no tiers
    private static readonly string[] Plans = ["basic", "premium"];

    private readonly SatsubServices app;
    private readonly CrashSwitch crash;
    private readonly SimPaymentProvider provider;
    private readonly SimPayoutProvider wallet;
    private string[]? tables;

    private Simulator(SatsubServices app, CrashSwitch crash, SimPaymentProvider provider, SimPayoutProvider wallet)
    {
        this.app = app;
        this.crash = crash;
        this.provider = provider;
        this.wallet = wallet;
    }

    public static async Task<Simulator> StartAsync()
    {
        var crash = new CrashSwitch();
        var provider = new SimPaymentProvider();
        var wallet = new SimPayoutProvider();
        var app = await SatsubServices.StartAsync(DbKind.Postgres, new Dictionary<string, string?>
        {
            ["Affiliate:HoldDays"] = "7",
            ["Payouts:AutoApproveMaxSats"] = "8000",
            ["Payouts:MinSats"] = "1000",
            ["Payments:InvoiceExpiryMinutes"] = "2880",
        }, services =>
        {
            services.AddKeyedSingleton<IPaymentProvider>("sandbox", provider);
            services.RemoveAll<IPayoutProvider>();
            services.AddSingleton<IPayoutProvider>(wallet);
            services.ConfigureDbContext<PostgresSatsubDbContext>((_, o) => o.AddInterceptors(crash.Interceptors));
        });
        return new Simulator(app, crash, provider, wallet);
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();

    // ------------------------------------------------------------------ the world of one seed

    private sealed record SimUser(Guid Id, Guid? Referrer);

    private sealed class World
    {
        public List<SimUser> Affiliates { get; } = [];
        public List<SimUser> Buyers { get; } = [];
        public List<Guid> Invoices { get; } = [];
        public List<Guid> Payouts { get; } = [];
        public Facts? Last { get; set; }
        public List<string> Trace { get; } = [];
    }

    private sealed record InvoiceFact(Guid Id, string ProviderInvoiceId, InvoiceStatus Status, long Amount, Guid UserId, DateTimeOffset ExpiresAt);
    private sealed record CommissionFact(Guid InvoiceId, Guid AffiliateId, CommissionState State, long Amount);
    private sealed record PayoutFact(Guid Id, Guid UserId, long Amount, PayoutStatus Status);

    private sealed record Facts(
        Dictionary<Guid, InvoiceFact> Invoices,
        Dictionary<Guid, CommissionFact> Commissions,
        HashSet<Guid> Refunds,
        Dictionary<Guid, PayoutFact> Payouts,
        Dictionary<string, long> Balances,
        Dictionary<Guid, int> SalePostings,
        int Unbalanced,
        int Empty,
        List<string> ClawbackFlags,
        int UnprocessedEvents);

    public async Task<(int Steps, int Crashes)> RunAsync(int seed)
    {
        crash.Disarm();
        provider.Reset();
        wallet.Reset();
        wallet.Random = new Random(unchecked(seed * 7_919 + 1));
        await ResetDatabaseAsync();
        // Each seed starts at noon of a fresh day, so days (the payout cap) fall alike on every replay.
        var now = app.Clock.GetUtcNow();
        app.Clock.SetUtcNow(new DateTimeOffset(now.UtcDateTime.Date.AddDays(40).AddHours(12), TimeSpan.Zero));

        var rng = new Random(seed);
        var world = new World();
        for (var i = 0; i < 2; i++) world.Affiliates.Add(new SimUser((await app.RegisterAsync()).Id, null));
        for (var i = 0; i < 3; i++)
        {
            var referrer = rng.Next(4) == 0 ? null : world.Affiliates[rng.Next(world.Affiliates.Count)];
            var code = referrer is null ? null : await app.DbAsync(db => db.Users.Where(u => u.Id == referrer.Id).Select(u => u.ReferralCode).SingleAsync());
            world.Buyers.Add(new SimUser((await app.RegisterAsync(code)).Id, referrer?.Id));
        }
        world.Last = await FactsAsync();

        var steps = rng.Next(6, 13);
        var crashes = 0;
        for (var step = 0; step < steps; step++)
        {
            var (name, run) = PickOperation(rng, world);
            var armed = CrashSwitch.Point.None;
            if (rng.Next(10) < 3)
            {
                armed = rng.Next(4) switch { 0 => CrashSwitch.Point.BeforeCommit, 1 => CrashSwitch.Point.AfterCommit, _ => CrashSwitch.Point.Command };
                crash.Arm(armed, rng.Next(0, 6));
            }
            string outcome;
            try
            {
                outcome = await run();
            }
            catch (Exception ex) when (CrashChain.IsCrash(ex))
            {
                outcome = "crashed";
            }
            catch (Exception ex)
            {
                throw new InvalidOperationException($"step {step} ({name}, crash point {armed}) threw {ex.GetType().Name}: {ex.Message}\ntrace:\n  {string.Join("\n  ", world.Trace)}", ex);
            }
            var fired = crash.Fired;
            if (fired) crashes++;
            crash.Disarm();
            world.Trace.Add($"{step}: {name} [{armed}{(fired ? ", fired" : "")}] → {outcome}");
            await CheckAsync(world, $"after step {step} ({name})");
        }

        // Quiet down: no faults, time passes, every worker runs; then everything paid is settled exactly once.
        provider.Down = false;
        for (var round = 0; round < 3; round++)
        {
            await InboxAsync();
            await app.WithAsync<Reconciler, int>(r => r.RunOnceAsync(default));
            await app.WithAsync<HoldRelease, int>(h => h.ReleaseDueAsync(default));
            await app.WithAsync<PayoutProcessor, int>(p => p.RunOnceAsync(default));
            app.Clock.Advance(TimeSpan.FromDays(1));
        }
        world.Trace.Add("quiesced");
        var facts = await CheckAsync(world, "at the end");
        var unsettled = facts.Invoices.Values.Where(i => provider.Paid.GetValueOrDefault(i.ProviderInvoiceId) && i.Status != InvoiceStatus.Settled).ToList();
        Fail(world, unsettled.Count > 0, $"{unsettled.Count} paid invoices were never settled");
        Fail(world, facts.UnprocessedEvents > 0, $"{facts.UnprocessedEvents} payment events were never processed");
        return (steps, crashes);
    }

    private async Task ResetDatabaseAsync()
    {
        await app.DbAsync(async db =>
        {
            if (tables is null)
            {
                tables = [.. await db.Database.SqlQueryRaw<string>(
                    "SELECT tablename AS \"Value\" FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('__ef_migrations_history', 'plans')").ToListAsync()];
                // The simulation's crashes are the interceptor's, not PostgreSQL's: commits need not wait for the disk.
                var database = db.Database.GetDbConnection().Database;
                var alter = "ALTER DATABASE \"" + database + "\" SET synchronous_commit = off";
                await db.Database.ExecuteSqlRawAsync(alter);
                Npgsql.NpgsqlConnection.ClearAllPools();
            }
            // A few rows in each table: deleting them in one transaction is much cheaper than TRUNCATE's new files.
            // Foreign keys are not checked meanwhile (every table is emptied). Table names come from the catalogue.
            var reset = "BEGIN; SET LOCAL session_replication_role = replica; "
                        + string.Concat(tables.Select(t => $"DELETE FROM \"{t}\"; ")) + "COMMIT;";
            await db.Database.ExecuteSqlRawAsync(reset);
            return 0;
        });
    }

    // ------------------------------------------------------------------ operations

    private (string Name, Func<Task<string>> Run) PickOperation(Random rng, World world)
    {
        var invoices = world.Invoices;
        // A buyer can pay only until the invoice expires (the provider refuses later payments).
        var now = app.Clock.GetUtcNow();
        var unpaid = invoices.Where(id => !provider.Paid.GetValueOrDefault(Pid(world, id)) && world.Last!.Invoices[id].ExpiresAt > now).ToList();
        var paid = invoices.Where(id => provider.Paid.GetValueOrDefault(Pid(world, id))).ToList();
        while (true)
        {
            switch (rng.Next(20))
            {
                case < 3 when invoices.Count < 6:
                {
                    var buyer = world.Buyers[rng.Next(world.Buyers.Count)];
                    var plan = Plans[rng.Next(Plans.Length)];
                    return ($"purchase {plan} by buyer {world.Buyers.IndexOf(buyer)}", () => PurchaseAsync(world, buyer, plan));
                }
                case < 6 when unpaid.Count > 0:
                {
                    var id = unpaid[rng.Next(unpaid.Count)];
                    return ($"buyer pays invoice {invoices.IndexOf(id)}", () =>
                    {
                        provider.Paid[Pid(world, id)] = true;
                        return Task.FromResult("paid");
                    });
                }
                case < 9 when invoices.Count > 0:
                {
                    var id = invoices[rng.Next(invoices.Count)];
                    var eventId = $"evt-{Pid(world, id)}-{rng.Next(3)}"; // few ids: duplicates are common
                    return ($"webhook {eventId} for invoice {invoices.IndexOf(id)}", async () =>
                        await app.WithAsync<WebhookRecorder, bool>(r => r.RecordAsync("sandbox", new WebhookNotification(eventId, Pid(world, id), "test"), default))
                            ? "recorded" : "duplicate");
                }
                case < 11:
                    return ("inbox worker runs", async () => $"{await InboxAsync()} processed");
                case 11 when paid.Count > 0:
                {
                    var id = paid[rng.Next(paid.Count)];
                    return ($"watcher settles invoice {invoices.IndexOf(id)} directly", () => SettleDirectAsync(world, id, rng.Next(2)));
                }
                case 12:
                    return ("reconciliation runs", async () => $"{await app.WithAsync<Reconciler, int>(r => r.RunOnceAsync(default))} changed");
                case 13 when invoices.Count > 0:
                {
                    var id = invoices[rng.Next(invoices.Count)];
                    return ($"refund invoice {invoices.IndexOf(id)}", () => RefundAsync(world, id));
                }
                case 14:
                {
                    var hours = rng.Next(1, 24 * 9);
                    return ($"{hours} h pass, reconciliation and hold release run", async () =>
                    {
                        // Reconciliation runs every few minutes in the server: once at least while these hours pass.
                        await app.WithAsync<Reconciler, int>(r => r.RunOnceAsync(default));
                        app.Clock.Advance(TimeSpan.FromHours(hours));
                        return $"{await app.WithAsync<HoldRelease, int>(h => h.ReleaseDueAsync(default))} released";
                    });
                }
                case 15:
                {
                    var affiliate = world.Affiliates[rng.Next(world.Affiliates.Count)];
                    var choice = rng.Next(4);
                    return ($"affiliate {world.Affiliates.IndexOf(affiliate)} asks for a payout ({choice})", () => RequestPayoutAsync(world, affiliate, choice));
                }
                case 16 when world.Payouts.Count > 0:
                {
                    var payout = world.Payouts[rng.Next(world.Payouts.Count)];
                    var approve = rng.Next(3) != 0;
                    return ($"admin {(approve ? "approves" : "rejects")} payout {world.Payouts.IndexOf(payout)}", () => DecideAsync(payout, approve));
                }
                case 17:
                {
                    var minutes = rng.Next(0, 2) * 5;
                    return ($"{minutes} min pass, payout worker runs", async () =>
                    {
                        app.Clock.Advance(TimeSpan.FromMinutes(minutes));
                        return $"{await app.WithAsync<PayoutProcessor, int>(p => p.RunOnceAsync(default))} done";
                    });
                }
                case 18:
                    return (provider.Down ? "provider comes back" : "provider goes down", () =>
                    {
                        provider.Down = !provider.Down;
                        return Task.FromResult("ok");
                    });
            }
        }
    }

    private static string Pid(World world, Guid invoiceId) => world.Last!.Invoices[invoiceId].ProviderInvoiceId;

    private async Task<int> InboxAsync()
    {
        var total = 0;
        for (var i = 0; i < 10; i++)
        {
            var done = await app.WithAsync<PaymentInbox, int>(inbox => inbox.ProcessDueAsync(default));
            total += done;
            if (done == 0) break;
        }
        return total;
    }

    private async Task<string> PurchaseAsync(World world, SimUser buyer, string plan)
    {
        var down = provider.Down;
        try
        {
            var (_, invoice) = await app.WithAsync<PurchaseService, (Subscription, Invoice)>(p => p.StartAsync(buyer.Id, plan, PaymentMethod.Lightning, default));
            Expect(world, !down, "a purchase succeeded while the provider was down");
            world.Invoices.Add(invoice.Id);
            // Known to the model now (the check that follows reads its provider id).
            world.Last!.Invoices[invoice.Id] = new InvoiceFact(invoice.Id, invoice.ProviderInvoiceId, invoice.Status, invoice.AmountSats, buyer.Id, invoice.ExpiresAt);
            return "invoice " + (world.Invoices.Count - 1);
        }
        catch (PaymentProviderUnavailableException) when (down)
        {
            return "refused: provider down";
        }
    }

    private async Task<string> SettleDirectAsync(World world, Guid invoiceId, int eventNo)
    {
        var result = await app.WithAsync<SettlementService, SettlementResult>(s =>
            s.SettleAsync(invoiceId, new PaymentEvidence("sandbox", $"watch-{invoiceId:N}-{eventNo}")));
        var status = await app.DbAsync(db => db.Invoices.Where(i => i.Id == invoiceId).Select(i => i.Status).SingleAsync());
        Expect(world, status == InvoiceStatus.Settled, "a settlement returned but the invoice is not settled");
        return result.Replayed ? "replayed" : "settled";
    }

    private async Task<string> RefundAsync(World world, Guid invoiceId)
    {
        var settled = world.Last!.Invoices[invoiceId].Status == InvoiceStatus.Settled;
        try
        {
            var result = await app.WithAsync<RefundService, RefundResult>(r => r.RefundAsync(invoiceId, "simulation", default));
            Expect(world, settled, "an unsettled invoice was refunded");
            return result.Replayed ? "replayed" : result.ClawedBack ? "refunded with clawback" : "refunded";
        }
        catch (DomainException e) when (e.Code == "invoice_not_settled" && !settled)
        {
            return "refused: not settled";
        }
    }

    private async Task<string> RequestPayoutAsync(World world, SimUser affiliate, int choice)
    {
        var available = world.Last!.Balances.GetValueOrDefault(Accounts.AffiliateAvailable(affiliate.Id));
        long amount = choice switch { 0 => available, 1 => 1_000, 2 => available + 1, _ => 500 };
        // The service's own order of checks: the balance first, then the minimum.
        var expected = amount <= 0 ? "invalid_amount" : amount > available ? "insufficient_balance" : amount < 1_000 ? "below_minimum" : null;
        try
        {
            var payout = await app.WithAsync<PayoutService, Payout>(s => s.RequestAsync(affiliate.Id, amount, "alice@wallet.example", default));
            Expect(world, expected is null, $"a payout of {amount} with {available} available was accepted (expected {expected})");
            Expect(world, payout.Status == (amount <= 8_000 ? PayoutStatus.Approved : PayoutStatus.Requested), $"payout of {amount} is {payout.Status}");
            world.Payouts.Add(payout.Id);
            return $"payout {world.Payouts.Count - 1} of {amount}: {payout.Status}";
        }
        catch (DomainException e) when (e.Code == expected)
        {
            return "refused: " + e.Code;
        }
        catch (DomainException e)
        {
            throw new InvalidOperationException($"a payout of {amount} with {available} available was refused with {e.Code} (expected {expected ?? "success"})", e);
        }
    }

    private async Task<string> DecideAsync(Guid payoutId, bool approve)
    {
        try
        {
            var p = await app.WithAsync<PayoutService, Payout>(s => approve ? s.ApproveAsync(payoutId, default) : s.RejectAsync(payoutId, "simulation", default));
            return p.Status.ToString();
        }
        catch (DomainException e) when (e.Code == "invalid_payout_state")
        {
            return "refused: " + e.Code;
        }
    }

    // ------------------------------------------------------------------ the invariants

    private async Task<Facts> FactsAsync() => await app.DbAsync(async db => new Facts(
        await db.Invoices.AsNoTracking().ToDictionaryAsync(i => i.Id, i => new InvoiceFact(i.Id, i.ProviderInvoiceId, i.Status, i.AmountSats, i.UserId, i.ExpiresAt)),
        await db.Commissions.AsNoTracking().ToDictionaryAsync(c => c.InvoiceId, c => new CommissionFact(c.InvoiceId, c.AffiliateId, c.State, c.AmountSats)),
        [.. await db.Refunds.AsNoTracking().Select(r => r.InvoiceId).ToListAsync()],
        await db.Payouts.AsNoTracking().ToDictionaryAsync(p => p.Id, p => new PayoutFact(p.Id, p.UserId, p.AmountSats, p.Status)),
        await LedgerBook.AllBalancesAsync(db, default),
        await db.LedgerPostings.Where(p => p.Kind == "sale").GroupBy(p => p.InvoiceId!.Value).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(x => x.Key, x => x.Count),
        (await LedgerBook.UnbalancedPostingsAsync(db, default)).Count,
        await db.LedgerPostings.CountAsync(p => !db.LedgerEntries.Any(e => e.PostingId == p.Id)),
        await db.AdminFlags.Where(f => f.Kind == "commission_clawback").Select(f => f.Subject).ToListAsync(),
        await db.PaymentEvents.CountAsync(e => e.ProcessedAt == null)));

    private async Task<Facts> CheckAsync(World world, string when)
    {
        var f = await FactsAsync();
        var before = world.Last!;
        // What a step created but could not report (it crashed after its commit) joins the world too.
        foreach (var id in f.Invoices.Keys.Where(id => !world.Invoices.Contains(id)).Order()) world.Invoices.Add(id);
        foreach (var id in f.Payouts.Keys.Where(id => !world.Payouts.Contains(id)).Order()) world.Payouts.Add(id);
        void Check(bool broken, string what) => Fail(world, broken, $"{when}: {what}");

        Check(f.Unbalanced > 0, $"{f.Unbalanced} postings do not sum to zero");
        Check(f.Empty > 0, $"{f.Empty} postings have no entries");
        Check(f.Balances.Values.Sum() != 0, "the accounts do not sum to zero");

        var referrerOf = world.Buyers.Concat(world.Affiliates).ToDictionary(u => u.Id, u => u.Referrer);
        var expected = new Dictionary<string, long>(StringComparer.Ordinal);
        void Add(string account, long amount) => expected[account] = expected.GetValueOrDefault(account) + amount;

        foreach (var i in f.Invoices.Values)
        {
            var settled = i.Status == InvoiceStatus.Settled;
            Check(f.SalePostings.GetValueOrDefault(i.Id) != (settled ? 1 : 0), $"invoice {i.Id} is {i.Status} with {f.SalePostings.GetValueOrDefault(i.Id)} sale postings");
            Check(settled && !provider.Paid.GetValueOrDefault(i.ProviderInvoiceId), $"invoice {i.Id} was settled but never paid");
            Check(before.Invoices.TryGetValue(i.Id, out var was) && was.Status == InvoiceStatus.Settled && !settled, $"invoice {i.Id} went from settled to {i.Status}");
            var refunded = f.Refunds.Contains(i.Id);
            Check(refunded && !settled, $"invoice {i.Id} was refunded without being settled");
            Check(before.Refunds.Contains(i.Id) && !refunded, $"the refund of invoice {i.Id} disappeared");
            var referrer = referrerOf.GetValueOrDefault(i.UserId);
            f.Commissions.TryGetValue(i.Id, out var commission);
            if (!settled)
            {
                Check(commission is not null, $"unsettled invoice {i.Id} has a commission");
                continue;
            }
            var split = Split.Of(new Sats(i.Amount), referrer is null ? null : Rate);
            if (!refunded)
            {
                Add(Accounts.CustomerPayments, -i.Amount);
                Add(Accounts.OwnerRevenue, split.Owner.Value);
            }
            if (referrer is not { } affiliate)
            {
                Check(commission is not null, $"invoice {i.Id} of an unreferred buyer has a commission");
                continue;
            }
            Check(commission is null || commission.AffiliateId != affiliate || commission.Amount != split.Affiliate.Value,
                $"invoice {i.Id}: commission {commission} is not {split.Affiliate} to {affiliate}");
            if (commission is null) continue;
            Check((commission.State == CommissionState.ClawedBack) != refunded, $"invoice {i.Id}: commission {commission.State}, refunded {refunded}");
            if (before.Commissions.TryGetValue(i.Id, out var c0))
                Check(c0.State > commission.State, $"commission of invoice {i.Id} went back from {c0.State} to {commission.State}");
            if (commission.State == CommissionState.Pending) Add(Accounts.AffiliatePending(affiliate), commission.Amount);
            if (commission.State == CommissionState.Available) Add(Accounts.AffiliateAvailable(affiliate), commission.Amount);
        }

        foreach (var p in f.Payouts.Values)
        {
            if (before.Payouts.TryGetValue(p.Id, out var p0))
                Check(p0.Status is PayoutStatus.Sent or PayoutStatus.Failed or PayoutStatus.Rejected && p0.Status != p.Status,
                    $"payout {p.Id} left its final state {p0.Status} for {p.Status}");
            switch (p.Status)
            {
                case PayoutStatus.Requested or PayoutStatus.Approved or PayoutStatus.Sending:
                    Add(Accounts.AffiliateAvailable(p.UserId), -p.Amount);
                    Add(Accounts.PayoutsInFlight, p.Amount);
                    break;
                case PayoutStatus.Sent:
                    Add(Accounts.AffiliateAvailable(p.UserId), -p.Amount);
                    Add(Accounts.AffiliatePaid(p.UserId), p.Amount);
                    break;
            }
        }
        foreach (var p in before.Payouts.Keys) Check(!f.Payouts.ContainsKey(p), $"payout {p} disappeared");

        var actual = f.Balances.Where(kv => kv.Value != 0).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var model = expected.Where(kv => kv.Value != 0).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        Check(!actual.SequenceEqual(model), "the balances differ from the model:\n  ledger " + string.Join(", ", actual.Select(kv => $"{kv.Key}={kv.Value}"))
                                             + "\n  model  " + string.Join(", ", model.Select(kv => $"{kv.Key}={kv.Value}")));

        // Available is negative only after a clawback, and then the owner was told.
        foreach (var a in world.Affiliates)
        {
            var available = f.Balances.GetValueOrDefault(Accounts.AffiliateAvailable(a.Id));
            Check(available < 0 && !f.ClawbackFlags.Any(s => s.Contains(a.Id.ToString("D"), StringComparison.Ordinal)),
                $"affiliate {a.Id} has {available} available without a clawback flag");
        }
        world.Last = f;
        return f;
    }

    private static void Expect(World world, bool condition, string what) => Fail(world, !condition, what);

    private static void Fail(World world, bool broken, string what)
    {
        if (broken) throw new InvalidOperationException(what + "\ntrace:\n  " + string.Join("\n  ", world.Trace));
    }
}
