using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Common;
using Satsub.Data;
using Satsub.Hosting;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Tests.Cli;
using Satsub.Tests.Payments.Providers.BtcPay;

namespace Satsub.Tests.Faults;

/// <summary>
/// The fault tests start servers, kill them and stop databases: they run one at a time, after the rest of the
/// suite, so that their timings do not depend on what else the two CI cores are doing.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultsCollection
{
    public const string Name = "Faults";
}

/// <summary>Reads a Satsub PostgreSQL database directly, as an auditor would.</summary>
public static class FaultDb
{
    public static PostgresSatsubDbContext Open(string connectionString)
    {
        var o = new DbContextOptionsBuilder<PostgresSatsubDbContext>();
        DataModule.ConfigurePostgres(o, connectionString);
        return new PostgresSatsubDbContext(o.Options);
    }

    public static async Task<T> QueryAsync<T>(string connectionString, Func<SatsubDbContext, Task<T>> query)
    {
        await using var db = Open(connectionString);
        return await query(db);
    }
}

/// <summary>The ledger invariants every fault test ends with.</summary>
public static class LedgerAudit
{
    /// <summary>
    /// Every posting has entries and sums to zero; no entry lacks its posting; the accounts sum to zero; every settled
    /// invoice has exactly one sale posting (the one it points to, booking its amount) and no other invoice has one.
    /// Returns the problems found (empty when healthy), so a caller can print them all at once.
    /// </summary>
    public static async Task<List<string>> ProblemsAsync(SatsubDbContext db, CancellationToken ct = default)
    {
        var problems = new List<string>();
        foreach (var id in await LedgerBook.UnbalancedPostingsAsync(db, ct)) problems.Add($"posting {id} does not sum to zero");
        var empty = await db.LedgerPostings.Where(p => !db.LedgerEntries.Any(e => e.PostingId == p.Id)).Select(p => p.Id).ToListAsync(ct);
        problems.AddRange(empty.Select(id => $"posting {id} has no entries (half-written)"));
        var orphans = await db.LedgerEntries.Where(e => !db.LedgerPostings.Any(p => p.Id == e.PostingId)).CountAsync(ct);
        if (orphans > 0) problems.Add($"{orphans} ledger entries have no posting (half-written)");
        var total = await db.LedgerEntries.SumAsync(e => (long?)e.AmountSats, ct) ?? 0;
        if (total != 0) problems.Add($"the accounts sum to {total}, not zero");

        var sales = await db.LedgerPostings.Where(p => p.Kind == "sale")
            .GroupBy(p => p.InvoiceId).Select(g => new { InvoiceId = g.Key, Count = g.Count() })
            .ToDictionaryAsync(x => x.InvoiceId ?? Guid.Empty, x => x.Count, ct);
        var invoices = await db.Invoices.AsNoTracking()
            .Select(i => new { i.Id, i.Status, i.SettlementPostingId, i.AmountSats }).ToListAsync(ct);
        var saleEntries = await db.LedgerEntries
            .Where(e => e.Account == Accounts.CustomerPayments && db.LedgerPostings.Any(p => p.Id == e.PostingId && p.Kind == "sale"))
            .Select(e => new { e.PostingId, e.AmountSats }).ToDictionaryAsync(x => x.PostingId, x => x.AmountSats, ct);
        foreach (var i in invoices)
        {
            var count = sales.GetValueOrDefault(i.Id);
            if (i.Status == InvoiceStatus.Settled)
            {
                if (count != 1) problems.Add($"invoice {i.Id} is settled with {count} sale postings");
                if (i.SettlementPostingId is not { } pid) problems.Add($"invoice {i.Id} is settled without its posting id");
                else if (saleEntries.GetValueOrDefault(pid) != -i.AmountSats)
                    problems.Add($"invoice {i.Id}: its sale posting books {-saleEntries.GetValueOrDefault(pid)} sats, not {i.AmountSats}");
            }
            else if (count != 0)
            {
                problems.Add($"invoice {i.Id} is {i.Status} but has {count} sale postings");
            }
        }
        problems.AddRange(await SaleSplitProblemsAsync(db, ct));
        return problems;
    }

    /// <summary>Every sale posting divides its amount as <see cref="Split.Of"/> says for the rate it recorded.</summary>
    public static async Task<List<string>> SaleSplitProblemsAsync(SatsubDbContext db, CancellationToken ct = default)
    {
        var problems = new List<string>();
        var postings = await db.LedgerPostings.AsNoTracking().Include(p => p.Entries).Where(p => p.Kind == "sale").ToListAsync(ct);
        foreach (var p in postings)
        {
            var sale = -p.Entries.Where(e => e.Account == Accounts.CustomerPayments).Sum(e => e.AmountSats);
            var split = Split.Of(new Sats(sale), p.RateBps);
            var owner = p.Entries.Where(e => e.Account == Accounts.OwnerRevenue).Sum(e => e.AmountSats);
            var affiliate = p.Entries.Where(e => e.Account.StartsWith("affiliate:", StringComparison.Ordinal)).Sum(e => e.AmountSats);
            if (owner != split.Owner.Value || affiliate != split.Affiliate.Value || p.Entries.Count > 3)
                problems.Add($"sale posting {p.Id} ({sale} sats at {p.RateBps} bps) gives the owner {owner} and affiliates {affiliate}");
        }
        return problems;
    }

    public static async Task AssertHealthyAsync(SatsubDbContext db, string? context = null)
    {
        var problems = await ProblemsAsync(db);
        Assert.True(problems.Count == 0, (context is null ? "" : context + ": ") + "ledger invariants broken:\n" + string.Join("\n", problems.Take(30)));
    }
}

/// <summary>
/// Satsub's services (no web server, no workers) on a given database, configured like the server under test:
/// to open users and invoices the way the API does, and to read what the server wrote.
/// </summary>
public sealed class FaultHost : IAsyncDisposable
{
    private readonly WebApplication app;

    private FaultHost(WebApplication app) => this.app = app;

    public IServiceProvider Services => app.Services;

    public static async Task<FaultHost> StartAsync(IDictionary<string, string> settings)
    {
        var builder = SatsubApp.CreateBuilder(settings.Select(kv => $"--{kv.Key}={kv.Value}").ToArray(), forCommandLine: true);
        var app = builder.Build();
        await SatsubApp.PrepareAsync(app.Services, migrate: true, CancellationToken.None);
        return new FaultHost(app);
    }

    public async Task<T> WithAsync<TService, T>(Func<TService, Task<T>> action) where TService : notnull
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await action(scope.ServiceProvider.GetRequiredService<TService>());
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}

/// <summary>Settings that point Satsub at a BTCPay stand-in.</summary>
public static class BtcPaySettings
{
    public static Dictionary<string, string> For(FakeBtcPayServer btcpay, Uri? url = null) => new()
    {
        ["Bitcoin:Network"] = "regtest",
        ["Payments:Provider"] = "btcpay",
        ["Payments:BtcPay:Url"] = (url ?? btcpay.Url).ToString(),
        ["Payments:BtcPay:ApiKey"] = btcpay.ApiKey,
        ["Payments:BtcPay:StoreId"] = btcpay.StoreId,
        ["Payments:BtcPay:WebhookSecret"] = btcpay.WebhookSecret,
    };

    public static Dictionary<string, string?> Nullable(this Dictionary<string, string> settings) =>
        settings.ToDictionary(kv => kv.Key, kv => (string?)kv.Value);
}

public static class FreePort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// The real <c>satsub serve</c> in a child process (the binary the operator runs), configured by environment
/// variables. <see cref="Kill"/> is <c>kill -9</c>: no shutdown hook, no flush, no rollback but PostgreSQL's own.
/// </summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();

    private ServeProcess(Process process, Uri baseUri)
    {
        this.process = process;
        BaseUri = baseUri;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseUri { get; }
    public int Pid => process.Id;
    public bool HasExited => process.HasExited;

    public string Output
    {
        get { lock (output) return output.ToString(); }
    }

    /// <summary>Starts the server on <paramref name="port"/> and waits until <c>/health</c> answers 200.</summary>
    public static async Task<ServeProcess> StartAsync(int port, IDictionary<string, string> settings, TimeSpan? within = null)
    {
        var env = settings.ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value);
        env["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        env["Logging__LogLevel__Default"] = "Warning";
        var workdir = Directory.CreateTempSubdirectory("satsub-serve-").FullName;
        var process = Process.Start(SatsubProcess.StartInfo(workdir, env, "serve"))!;
        var server = new ServeProcess(process, new Uri($"http://127.0.0.1:{port}/"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"satsub serve exited with {process.ExitCode}:\n{server.Output}");
            try
            {
                using var response = await http.GetAsync(new Uri(server.BaseUri, "health"));
                if (response.StatusCode == HttpStatusCode.OK) return server;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline)
            {
                server.Kill();
                throw new TimeoutException($"satsub serve did not become healthy:\n{server.Output}");
            }
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL, and waits until the process is gone.</summary>
    public void Kill()
    {
        if (process.HasExited) return;
        process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        process.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Posts webhook deliveries as BTCPay does: several at a time, and every one that did not get a 2xx (refused
/// connection, time-out, 5xx) goes back in the queue to be retried a little later, until each got its 2xx.
/// </summary>
public sealed class WebhookSender(HttpClient http, Uri endpoint)
{
    private long accepted;
    private long failed;
    private readonly ConcurrentDictionary<int, int> statuses = new();

    public long Accepted => Interlocked.Read(ref accepted);
    public long FailedAttempts => Interlocked.Read(ref failed);
    public IReadOnlyDictionary<int, int> Statuses => statuses;

    public async Task SendAllAsync(IReadOnlyList<WebhookDelivery> deliveries, int senders, TimeSpan retryDelay, TimeSpan within, CancellationToken ct = default)
    {
        var queue = new ConcurrentQueue<WebhookDelivery>(deliveries);
        var remaining = deliveries.Count;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(within);
        var workers = Task.WhenAll(Enumerable.Range(0, senders).Select(_ => Task.Run(async () =>
        {
            while (Volatile.Read(ref remaining) > 0)
            {
                timeout.Token.ThrowIfCancellationRequested();
                if (!queue.TryDequeue(out var delivery))
                {
                    await Task.Delay(20, timeout.Token); // others hold the last ones; they may come back
                    continue;
                }
                int status;
                try
                {
                    using var response = await FakeBtcPayServer.SendWebhookAsync(http, endpoint, delivery, timeout.Token);
                    status = (int)response.StatusCode;
                }
                catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !timeout.IsCancellationRequested))
                {
                    status = 0; // no answer: refused or cut off
                }
                statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                if (status is >= 200 and < 300)
                {
                    Interlocked.Increment(ref accepted);
                    Interlocked.Decrement(ref remaining);
                }
                else
                {
                    Interlocked.Increment(ref failed);
                    queue.Enqueue(delivery);
                    await Task.Delay(retryDelay, timeout.Token);
                }
            }
        }, timeout.Token)));
        try
        {
            await workers;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            Assert.Fail($"only {Accepted} of {deliveries.Count} deliveries were accepted within {within.TotalSeconds} s " +
                        $"({FailedAttempts} failed attempts)");
        }
    }
}

/// <summary>Waits, bounded, for a condition that background workers make true.</summary>
public static class Eventually
{
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan within, Func<Task<string>> describe)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception ex) when (DateTime.UtcNow <= deadline && ex is not OperationCanceledException)
            {
                // A database still starting: ask again.
            }
            if (DateTime.UtcNow > deadline) Assert.Fail("Timed out: " + await describe());
            await Task.Delay(200);
        }
    }
}

/// <summary>A sale opened through <see cref="Satsub.Subscriptions.PurchaseService"/> at the BTCPay stand-in.</summary>
public sealed record OpenSale(Guid InvoiceId, string ProviderInvoiceId, long AmountSats, Guid BuyerId, Guid? ReferrerId);

public static class Sales
{
    /// <summary>
    /// Affiliates, buyers (three in four referred by one of them) and <paramref name="invoices"/> purchases of either plan
    /// spread over the buyers (so some are renewals), each buyer's in order, <paramref name="parallel"/> buyers at a time.
    /// </summary>
    public static async Task<List<OpenSale>> OpenAsync(IServiceProvider services, Random rng, int buyers, int invoices, int parallel = 8)
    {
        async Task<Satsub.Users.User> RegisterAsync(string? referral)
        {
            await using var scope = services.CreateAsyncScope();
            var externalId = Guid.NewGuid().ToString("N")[..16];
            var (user, _) = await scope.ServiceProvider.GetRequiredService<Satsub.Users.UserRegistration>()
                .RegisterAsync(new Satsub.Users.RegistrationRequest("telegram", externalId, "u" + externalId, referral), default);
            return user;
        }

        var affiliates = new List<Satsub.Users.User>();
        for (var i = 0; i < Math.Max(1, buyers / 4); i++) affiliates.Add(await RegisterAsync(null));
        var people = new List<(Satsub.Users.User User, Guid? Referrer)>();
        for (var i = 0; i < buyers; i++)
        {
            var referrer = rng.Next(4) == 0 ? null : affiliates[rng.Next(affiliates.Count)];
            people.Add((await RegisterAsync(referrer?.ReferralCode), referrer?.Id));
        }
        var plans = Enumerable.Range(0, invoices).Select(_ => rng.Next(2) == 0 ? "basic" : "premium").ToArray();

        var sales = new ConcurrentBag<OpenSale>();
        using var gate = new SemaphoreSlim(parallel);
        await Task.WhenAll(people.Select((person, b) => Task.Run(async () =>
        {
            await gate.WaitAsync();
            try
            {
                for (var i = b; i < invoices; i += buyers)
                {
                    await using var scope = services.CreateAsyncScope();
                    var (_, invoice) = await scope.ServiceProvider.GetRequiredService<Satsub.Subscriptions.PurchaseService>()
                        .StartAsync(person.User.Id, plans[i], PaymentMethod.Lightning, default);
                    sales.Add(new OpenSale(invoice.Id, invoice.ProviderInvoiceId, invoice.AmountSats, person.User.Id, person.Referrer));
                }
            }
            finally
            {
                gate.Release();
            }
        })));
        return [.. sales.OrderBy(s => s.InvoiceId)];
    }

    /// <summary>The buyer pays the whole invoice over Lightning and BTCPay marks it settled.</summary>
    public static void PayAll(FakeBtcPayServer btcpay, IEnumerable<OpenSale> sales)
    {
        foreach (var s in sales)
        {
            btcpay.Pay(s.ProviderInvoiceId, s.AmountSats / 100_000_000m);
            btcpay.SetStatus(s.ProviderInvoiceId, "Settled");
        }
    }

    /// <summary>
    /// What BTCPay posts for paid invoices: each of <paramref name="events"/> once, plus redeliveries (same original
    /// delivery id, new delivery id and signature) up to its number of copies; all shuffled.
    /// </summary>
    public static List<WebhookDelivery> Deliveries(FakeBtcPayServer btcpay, IEnumerable<OpenSale> sales, Random rng, params (string Type, int Copies)[] events)
    {
        var all = new List<WebhookDelivery>();
        foreach (var s in sales)
        {
            foreach (var (type, copies) in events)
            {
                var first = btcpay.CreateWebhook(type, s.ProviderInvoiceId);
                all.Add(first);
                for (var c = 1; c < copies; c++) all.Add(btcpay.Redeliver(first));
            }
        }
        rng.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(all));
        return all;
    }

    /// <summary>
    /// Exactly one settlement per sale, as the sales say: the invoice settled with one sale posting of its amount, one
    /// commission when referred (to the referrer), one <c>payment.settled</c> message; and the whole ledger healthy.
    /// </summary>
    public static async Task AssertSettledOnceAsync(SatsubDbContext db, IReadOnlyCollection<OpenSale> sales)
    {
        await LedgerAudit.AssertHealthyAsync(db);
        var ids = sales.Select(s => s.InvoiceId).ToList();
        var invoices = await db.Invoices.AsNoTracking().Where(i => ids.Contains(i.Id)).ToDictionaryAsync(i => i.Id);
        var postings = await db.LedgerPostings.AsNoTracking().Where(p => p.Kind == "sale" && ids.Contains(p.InvoiceId!.Value))
            .GroupBy(p => p.InvoiceId!.Value).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(x => x.Key, x => x.Count);
        var commissions = await db.Commissions.AsNoTracking().Where(c => ids.Contains(c.InvoiceId)).ToListAsync();
        var settledMessages = await db.OutboxMessages.AsNoTracking().Where(m => m.Type == "payment.settled").Select(m => m.DedupeKey).ToListAsync();
        var problems = new List<string>();
        foreach (var s in sales)
        {
            if (invoices[s.InvoiceId].Status != InvoiceStatus.Settled) problems.Add($"invoice {s.InvoiceId} is {invoices[s.InvoiceId].Status}");
            if (postings.GetValueOrDefault(s.InvoiceId) != 1) problems.Add($"invoice {s.InvoiceId} has {postings.GetValueOrDefault(s.InvoiceId)} sale postings");
            var mine = commissions.Where(c => c.InvoiceId == s.InvoiceId).ToList();
            if (mine.Count != (s.ReferrerId is null ? 0 : 1) || mine.Any(c => c.AffiliateId != s.ReferrerId))
                problems.Add($"invoice {s.InvoiceId} has {mine.Count} commissions");
            if (settledMessages.Count(k => k == $"payment.settled:{s.InvoiceId:D}") != 1) problems.Add($"invoice {s.InvoiceId} has no single payment.settled message");
        }
        Assert.True(problems.Count == 0, $"{problems.Count} of {sales.Count} sales are wrong:\n" + string.Join("\n", problems.Take(20)));
        var total = sales.Sum(s => s.AmountSats);
        var sold = -await db.LedgerEntries.Where(e => e.Account == Accounts.CustomerPayments
            && db.LedgerPostings.Any(p => p.Id == e.PostingId && p.Kind == "sale" && ids.Contains(p.InvoiceId!.Value))).SumAsync(e => e.AmountSats);
        Assert.Equal(total, sold);
    }
}
