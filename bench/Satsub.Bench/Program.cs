using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using Satsub.Bench;

// satsub-bench [--quick] [--users N] [--levels 8,16,32,64] [--per-level N] [--warmup N] [--postgres CONNSTR] [--satsub PATH]
//              [--skip-seed | --seed-only] [--results FILE] [--pgbench-seconds N] [--read-seconds N] [--phases all|reads]
// --phases reads: on an already seeded database (implies --skip-seed), only the read phase (to iterate on read latency).
// Exit code 0: every correctness check passed (figures are printed whatever they are); 1: a check failed.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var options = BenchOptions.Parse(args);
try
{
    await new Bench(options).RunAsync();
    return 0;
}
catch (BenchFailure ex)
{
    Console.Error.WriteLine("bench: FAILED: " + ex.Message);
    return 1;
}
catch (Exception ex)
{
    Console.Error.WriteLine("bench: the harness broke: " + ex);
    return 2;
}

namespace Satsub.Bench
{
    internal sealed record BenchOptions(bool Quick, int Users, int[] Levels, int PerLevel, string Postgres, string Satsub, bool SkipSeed,
        string? Results, int PgbenchSeconds, int ReadSeconds, bool SeedOnly, int Warmup, bool ReadsOnly)
    {
        public static BenchOptions Parse(string[] args)
        {
            string? Value(string name)
            {
                var i = Array.IndexOf(args, name);
                return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
            }
            var quick = args.Contains("--quick");
            var phases = Value("--phases") ?? "all";
            if (phases is not ("all" or "reads")) throw new BenchFailure("--phases is 'all' or 'reads'");
            var postgres = Value("--postgres") ?? Environment.GetEnvironmentVariable("SATSUB_TEST_POSTGRES")
                ?? "Host=127.0.0.1;Port=5432;Username=postgres;Password=satsub-local-tests";
            return new BenchOptions(
                quick,
                int.Parse(Value("--users") ?? (quick ? "3000" : "1000000"), CultureInfo.InvariantCulture),
                (Value("--levels") ?? (quick ? "8,32" : "8,16,32,64")).Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray(),
                int.Parse(Value("--per-level") ?? (quick ? "300" : "1000"), CultureInfo.InvariantCulture),
                postgres,
                Path.GetFullPath(Value("--satsub") ?? FindSatsub()),
                args.Contains("--skip-seed") || phases == "reads",
                Value("--results"),
                int.Parse(Value("--pgbench-seconds") ?? (quick ? "2" : "15"), CultureInfo.InvariantCulture),
                int.Parse(Value("--read-seconds") ?? (quick ? "3" : "10"), CultureInfo.InvariantCulture),
                args.Contains("--seed-only"),
                int.Parse(Value("--warmup") ?? (quick ? "200" : "1000"), CultureInfo.InvariantCulture),
                phases == "reads");
        }

        /// <summary>src/Satsub/bin/Release (else Debug)/net10.0/satsub above the bench's own folder.</summary>
        private static string FindSatsub()
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Satsub.slnx"))) dir = dir.Parent;
            if (dir is null) throw new BenchFailure("cannot find the repository root (Satsub.slnx); pass --satsub PATH");
            foreach (var configuration in new[] { "Release", "Debug" })
            {
                var path = Path.Combine(dir.FullName, "src", "Satsub", "bin", configuration, "net10.0", "satsub");
                if (File.Exists(path)) return path;
            }
            throw new BenchFailure("build src/Satsub first (dotnet build src/Satsub -c Release) or pass --satsub PATH");
        }
    }

    internal sealed class Bench(BenchOptions o)
    {
        private const string WebhookSecret = "bench-webhook-secret";
        // Quick runs (CI) have their own databases, so they never drop a full run's.
        // SATSUB_BENCH_DB_SUFFIX lets several runs share one PostgreSQL server (several worktrees on one machine).
        private static readonly string Suffix = Environment.GetEnvironmentVariable("SATSUB_BENCH_DB_SUFFIX") is { Length: > 0 } s && s.All(char.IsAsciiLetterOrDigit)
            ? "_" + s.ToLowerInvariant() : "";
        private readonly string BenchDatabase = (o.Quick ? "satsub_bench_quick" : "satsub_bench") + Suffix;
        private readonly string PgbenchDatabase = (o.Quick ? "satsub_pgbench_quick" : "satsub_pgbench") + Suffix;
        private readonly List<(string Name, string Value)> _figures = [];
        private readonly string _work = Directory.CreateTempSubdirectory("satsub-bench-").FullName;

        private string Db(string database) => new NpgsqlConnectionStringBuilder(o.Postgres) { Database = database }.ConnectionString;

        private void Figure(string name, string value)
        {
            _figures.Add((name, value));
            Console.WriteLine($"  {name}: {value}");
        }

        private static void Step(string text) => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {text}");

        public async Task RunAsync()
        {
            var ct = CancellationToken.None;
            Step($"satsub bench ({(o.Quick ? "quick" : "full")}): {o.Users:N0} users, levels {string.Join(",", o.Levels)} × {o.PerLevel} invoices; " +
                 $"{Environment.ProcessorCount} cores; binary {o.Satsub}; work folder {_work}");
            Figure("users", o.Users.ToString(CultureInfo.InvariantCulture));

            await using var standIn = new BtcPayStandIn();
            await standIn.StartAsync();
            var settings = new Dictionary<string, string>
            {
                ["Database:Provider"] = "postgres",
                ["ConnectionStrings:Satsub"] = Db(BenchDatabase) + ";Maximum Pool Size=200" + Environment.GetEnvironmentVariable("SATSUB_BENCH_EXTRA_CONN"),
                ["Payments:Provider"] = "btcpay",
                ["Payments:BtcPay:Url"] = standIn.BaseUrl,
                ["Payments:BtcPay:ApiKey"] = BtcPayStandIn.ApiKey,
                ["Payments:BtcPay:StoreId"] = BtcPayStandIn.StoreId,
                ["Payments:BtcPay:WebhookSecret"] = WebhookSecret,
                // Commissions are available at once: the seeded history is then exactly what settlement writes.
                ["Affiliate:HoldDays"] = "0",
                // One load generator is one client: the per-key/per-IP limit would measure the limiter.
                ["Api:RateLimit:PermitsPerSecond"] = "1000000",
            };

            if (!o.SkipSeed)
            {
                await RecreateDatabaseAsync(BenchDatabase, ct);
                Step("migrating (satsub migrate)");
                await RunSatsubAsync(settings, ct, "migrate");
                Step($"seeding {o.Users:N0} users and {2L * o.Users:N0} settled sales with COPY");
                var seedWatch = Stopwatch.StartNew();
                var timings = await new Seeder(Db(BenchDatabase), o.Users, seed: 20261128).RunAsync(ct);
                // The affiliate standings of the seeded history, set-based (part of the seed time; serve would do it at start-up).
                await RunSatsubAsync(settings, ct, "standings", "rebuild");
                Figure("seed time", $"{seedWatch.Elapsed.TotalSeconds:0.0} s ({timings.Rows:N0} rows: COPY {timings.Copy.TotalSeconds:0.0} s, " +
                       $"indexes+foreign keys+analyze {timings.Indexes.TotalSeconds:0.0} s, ledger check {timings.Check.TotalSeconds:0.0} s)");
                if (o.SeedOnly) return;
            }

            // A running deployment has its past months' reports closed already (the hourly job): close them before the measured
            // server starts, with `satsub reports close`, timed and measured on their own (not part of the seed time).
            Step("closing the past months' transparency reports (satsub reports close)");
            var closeWatch = Stopwatch.StartNew();
            var (closedOut, closePeak) = await RunSatsubMeasuredAsync(settings, ct, "reports", "close");
            var closedMonths = closedOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split('\t')).ToList();
            Figure("report closing", $"{closedMonths.Count} months, {closedMonths.Sum(m => long.Parse(m[1], CultureInfo.InvariantCulture)):N0} rows, " +
                   $"{closeWatch.Elapsed.TotalSeconds:0.0} s, peak RSS {closePeak / (1024.0 * 1024):0} MB");

            var key = (await RunSatsubAsync(settings, ct, "apikey", "create", "--name", "bench", "--scopes", "admin")).Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim();
            var userIds = await ReadUserIdsAsync(ct);
            await RememberEarlierInvoicesAsync(standIn, ct);

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 2048, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
            { Timeout = TimeSpan.FromSeconds(30) };
            Step("starting satsub serve (PostgreSQL)");
            var startWatch = Stopwatch.StartNew();
            await using var server = ServerProcess.Start(o.Satsub, _work, settings, Path.Combine(_work, "server.log"), "serve");
            var started = await server.WaitHealthyAsync(http, startWatch, TimeSpan.FromSeconds(120), ct);
            Figure("start-up to /health 200 (PostgreSQL, seeded)", $"{started.TotalSeconds:0.00} s");
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            if (o.ReadsOnly)
            {
                await ReadsAsync(http, server, userIds, ct);
                Console.WriteLine($"peak RSS: {server.PeakRssBytes() / (1024.0 * 1024):0} MB");
                if (o.Results is not null)
                    await File.WriteAllLinesAsync(o.Results, _figures.Select(f => $"{f.Name}: {f.Value}"), ct);
                return;
            }

            var invoices = await CreateInvoicesAsync(http, server, standIn, userIds, ct);
            var best = await SettleAsync(http, server, standIn, invoices, ct);
            await RedeliverAndCheckAsync(http, server, invoices, ct);
            var pgbench = await PgbenchAsync(ct);

            Step("settlement vs pgbench");
            foreach (var (level, rate) in best.Rates)
            {
                var tps = pgbench.GetValueOrDefault(level);
                Console.WriteLine($"  c={level}: satsub {rate:0.0} settlements/s, pgbench {tps:0.0} tps, ratio {(tps > 0 ? rate / tps : double.NaN):0.000}");
            }
            var bestLevel = best.Rates.MaxBy(r => r.Value).Key;
            var bestTps = pgbench.GetValueOrDefault(bestLevel);

            await ReadsAsync(http, server, userIds, ct);
            var rss = server.PeakRssBytes();
            await server.DisposeAsync();
            var sqliteStart = await SqliteStartupAsync(http, standIn, ct);

            Console.WriteLine();
            Console.WriteLine("Figures:");
            Console.WriteLine($"users: {o.Users}");
            foreach (var (name, value) in _figures.Where(f => f.Name == "seed time")) Console.WriteLine($"seed time: {value.Split(' ')[0]} s");
            foreach (var (name, value) in _figures.Where(f => f.Name == "report closing")) Console.WriteLine($"report closing: {value}");
            Console.WriteLine($"settlements/s (best, c={bestLevel}): {best.Rates[bestLevel]:0.0}");
            Console.WriteLine($"settle p99 at c={bestLevel}: {best.P99[bestLevel]:0} ms");
            Console.WriteLine($"pgbench tps (c={bestLevel}): {bestTps:0}");
            Console.WriteLine($"settle/pgbench ratio: {(bestTps > 0 ? best.Rates[bestLevel] / bestTps : double.NaN):0.00}");
            Console.WriteLine($"load generator + stand-in CPU share: {best.BenchCpuShare:0.00}");
            foreach (var (name, value) in _figures.Where(f => f.Name.StartsWith("users p99", StringComparison.Ordinal) || f.Name.StartsWith("users/health", StringComparison.Ordinal) || f.Name.StartsWith("leaderboard", StringComparison.Ordinal)))
                Console.WriteLine($"{name}: {value.Split(' ')[0]}{(name.Contains("p99", StringComparison.Ordinal) ? " ms" : "")}");
            Console.WriteLine($"peak RSS: {rss / (1024.0 * 1024):0} MB");
            Console.WriteLine($"start-up to /health (SQLite): {sqliteStart.TotalSeconds:0.00} s");
            if (o.Results is not null)
                await File.WriteAllLinesAsync(o.Results, _figures.Select(f => $"{f.Name}: {f.Value}"), ct);
        }

        private async Task RecreateDatabaseAsync(string database, CancellationToken ct)
        {
            await using var c = new NpgsqlConnection(Db("postgres"));
            await c.OpenAsync(ct);
            await Seeder.ExecAsync(c, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)", ct);
            await Seeder.ExecAsync(c, $"CREATE DATABASE {database}", ct);
        }

        private async Task<string> RunSatsubAsync(Dictionary<string, string> settings, CancellationToken ct, params string[] args) =>
            (await RunSatsubMeasuredAsync(settings, ct, args)).Stdout;

        /// <summary>Runs a satsub command to its end (a non-zero exit fails the bench), sampling its peak RSS (VmHWM) from /proc every 20 ms.</summary>
        private async Task<(string Stdout, long PeakRssBytes)> RunSatsubMeasuredAsync(Dictionary<string, string> settings, CancellationToken ct, params string[] args)
        {
            var viaDotnet = o.Satsub.EndsWith(".dll", StringComparison.Ordinal);
            var psi = new ProcessStartInfo(viaDotnet ? "dotnet" : o.Satsub) { WorkingDirectory = _work, RedirectStandardOutput = true, RedirectStandardError = true };
            if (viaDotnet) psi.ArgumentList.Add(o.Satsub);
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
            foreach (var (k, v) in settings) psi.Environment[k.Replace(":", "__", StringComparison.Ordinal)] = v;
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync(ct);
            var stderr = p.StandardError.ReadToEndAsync(ct);
            long peak = 0;
            var exited = p.WaitForExitAsync(ct);
            while (!exited.IsCompleted)
            {
                // VmHWM is the process's own high-water mark, so a sample taken late still sees an earlier peak; the last
                // sample before exit is the one that counts (the file is gone once the process has been reaped).
                try { peak = Math.Max(peak, ProcStats.StatusKb(p.Id, "VmHWM") * 1024); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
                await Task.WhenAny(exited, Task.Delay(20, ct));
            }
            await exited;
            if (p.ExitCode != 0) throw new BenchFailure($"satsub {string.Join(' ', args)} exited with {p.ExitCode}: {await stderr}");
            return (await stdout, peak);
        }

        private async Task<Guid[]> ReadUserIdsAsync(CancellationToken ct)
        {
            await using var c = new NpgsqlConnection(Db(BenchDatabase));
            await c.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT id FROM users", c);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var ids = new List<Guid>();
            while (await reader.ReadAsync(ct)) ids.Add(reader.GetGuid(0));
            return [.. ids];
        }

        /// <summary>Fresh invoices through the real API (POST /api/v1/subscriptions), each for a different user.</summary>
        private async Task<List<string>> CreateInvoicesAsync(HttpClient http, ServerProcess server, BtcPayStandIn standIn, Guid[] userIds, CancellationToken ct)
        {
            var count = o.Warmup + o.Levels.Length * o.PerLevel;
            if (count > userIds.Length) throw new BenchFailure($"{count} invoices need as many users; seed more (--users)");
            var buyers = userIds.OrderBy(_ => Random.Shared.Next()).Take(count).ToList();
            Step($"creating {count} invoices through POST /api/v1/subscriptions (16 concurrent)");
            var watch = Stopwatch.StartNew();
            var latencies = await Load.ClosedLoopAsync(16, buyers, async buyer =>
            {
                using var response = await http.PostAsJsonAsync(server.BaseUrl + "/api/v1/subscriptions",
                    new { user_id = buyer.ToString("D"), subscription_type = "basic", payment_data = new { method = "lightning" } }, ct);
                return response.StatusCode == HttpStatusCode.Created;
            });
            Figure("invoice creation", $"{count / watch.Elapsed.TotalSeconds:0.0}/s, {latencies.Summary()}");
            if (latencies.Errors > 0) throw new BenchFailure($"{latencies.Errors} invoices could not be created");
            return [.. standIn.CreatedIds];
        }

        private sealed record SettleResults(Dictionary<int, double> Rates, Dictionary<int, double> P99, double BenchCpuShare);

        /// <summary>
        /// At each concurrency: the buyer pays (the stand-in's invoice becomes Settled) and its signed InvoiceSettled
        /// webhook goes to the server, from C concurrent senders. Settled means the invoice row says so: the rate is
        /// the invoices of the level over the time from the first webhook to the last settled_at.
        /// </summary>
        private async Task<SettleResults> SettleAsync(HttpClient http, ServerProcess server, BtcPayStandIn standIn, List<string> invoices, CancellationToken ct)
        {
            var rates = new Dictionary<int, double>();
            var p99 = new Dictionary<int, double>();
            TimeSpan benchCpu = TimeSpan.Zero, serverCpu = TimeSpan.Zero, machineCpu = TimeSpan.Zero, postgresCpu = TimeSpan.Zero;
            var settledCount = 0;
            await using var db = new NpgsqlConnection(Db(BenchDatabase));
            await db.OpenAsync(ct);
            // The bench's own connection (it polls for the settled invoices) is not Satsub's PostgreSQL time.
            var ownBackend = (int)await Checks.ScalarAsync(db, "SELECT pg_backend_pid()", ct);
            if (o.Warmup > 0)
            {
                // A server just started runs its first thousands of calls as unoptimized code while the JIT recompiles the
                // hot paths in the background; like any benchmark, measure the steady state, not the JIT (not counted).
                var warm = invoices.Take(o.Warmup).ToList();
                Step($"warm-up: {warm.Count} settlements at concurrency {o.Levels[0]} (not measured)");
                await Load.ClosedLoopAsync(o.Levels[0], warm, async id =>
                {
                    standIn.MarkPaid(id);
                    using var response = await SendWebhookAsync(http, server, id, "delivery-" + id, null, ct);
                    return response.StatusCode == HttpStatusCode.OK;
                });
                await WaitSettledAsync(db, warm, TimeSpan.FromSeconds(60 + warm.Count / 5.0), ct);
            }
            for (var l = 0; l < o.Levels.Length; l++)
            {
                var level = o.Levels[l];
                var chunk = invoices.Skip(o.Warmup + l * o.PerLevel).Take(o.PerLevel).ToList();
                Step($"settlement at concurrency {level}: {chunk.Count} signed BTCPay webhooks");
                var sentAt = new System.Collections.Concurrent.ConcurrentDictionary<string, DateTime>();
                await using var postgres = new BackendCpuSampler(BenchDatabase, ownBackend);
                var (bench0, server0, machine0) = (ProcStats.SelfCpuTime(), server.CpuTime(), ProcStats.MachineBusy());
                var first = DateTime.UtcNow;
                var webhooks = await Load.ClosedLoopAsync(level, chunk, async id =>
                {
                    standIn.MarkPaid(id);
                    sentAt[id] = DateTime.UtcNow;
                    using var response = await SendWebhookAsync(http, server, id, "delivery-" + id, null, ct);
                    return response.StatusCode == HttpStatusCode.OK;
                });
                var settled = await WaitSettledAsync(db, chunk, TimeSpan.FromSeconds(60 + chunk.Count / 5.0), ct);
                var (bench1, server1, machine1) = (ProcStats.SelfCpuTime(), server.CpuTime(), ProcStats.MachineBusy());
                var levelPostgres = await postgres.StopAsync();
                postgresCpu += levelPostgres;
                settledCount += chunk.Count;
                benchCpu += bench1 - bench0;
                serverCpu += server1 - server0;
                machineCpu += machine1 - machine0;

                var end = settled.Values.Max();
                var rate = chunk.Count / (end - first).TotalSeconds;
                var e2e = new Latencies();
                foreach (var (id, at) in settled) e2e.Add((at - sentAt[id]).TotalMilliseconds);
                rates[level] = rate;
                p99[level] = e2e.Percentile(99);
                Figure($"settle c={level}", $"{rate:0.0} settlements/s; webhook answer {webhooks.Summary()}; " +
                       $"webhook→settled {e2e.Summary()}; CPU s: bench {(bench1 - bench0).TotalSeconds:0.0}, server {(server1 - server0).TotalSeconds:0.0}, " +
                       $"its PostgreSQL backends {levelPostgres.TotalSeconds:0.0}, " +
                       $"whole machine {(machine1 - machine0).TotalSeconds:0.0} over {(end - first).TotalSeconds:0.0} s wall");
                if (webhooks.Errors > 0) throw new BenchFailure($"{webhooks.Errors} webhooks were not answered 200 at concurrency {level}");
            }
            var share = machineCpu > TimeSpan.Zero ? benchCpu / machineCpu : double.NaN;
            Figure("settlement CPU", $"bench (load generator + BTCPay stand-in) {benchCpu.TotalSeconds:0.0} s, satsub {serverCpu.TotalSeconds:0.0} s, " +
                   $"its PostgreSQL backends {postgresCpu.TotalSeconds:0.0} s, whole machine {machineCpu.TotalSeconds:0.0} s (the other tenants of the machine are the rest); bench share {share:0.00}");
            Figure("CPU per settlement", $"satsub {serverCpu.TotalMilliseconds / settledCount:0.00} ms + PostgreSQL {postgresCpu.TotalMilliseconds / settledCount:0.00} ms");
            return new SettleResults(rates, p99, share);
        }

        // BTCPay sends webhooks without an API key: a client of its own, so the bench's admin key is not presented with them.
        private static readonly HttpClient WebhookHttp = new(new SocketsHttpHandler { MaxConnectionsPerServer = 2048, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        { Timeout = TimeSpan.FromSeconds(30) };

        private static async Task<HttpResponseMessage> SendWebhookAsync(HttpClient _, ServerProcess server, string invoiceId, string deliveryId,
            string? originalDeliveryId, CancellationToken ct)
        {
            var http = WebhookHttp;
            // BTCPay's InvoiceSettled delivery, signed as BTCPay signs it: BTCPay-Sig: sha256=HEX(HMAC-SHA256(secret, body)).
            var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new
            {
                deliveryId,
                webhookId = "benchhook",
                originalDeliveryId = originalDeliveryId ?? deliveryId,
                isRedelivery = originalDeliveryId is not null,
                type = "InvoiceSettled",
                timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
                storeId = BtcPayStandIn.StoreId,
                invoiceId,
                metadata = new { },
                manuallyMarked = false,
                overPaid = false,
            });
            using var request = new HttpRequestMessage(HttpMethod.Post, server.BaseUrl + "/api/v1/webhooks/btcpay") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add("BTCPay-Sig", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(WebhookSecret), body)));
            return await http.SendAsync(request, ct);
        }

        /// <summary>Waits until every invoice is settled; their settled_at.</summary>
        private static async Task<Dictionary<string, DateTime>> WaitSettledAsync(NpgsqlConnection db, List<string> ids, TimeSpan timeout, CancellationToken ct)
        {
            var watch = Stopwatch.StartNew();
            while (true)
            {
                var done = await Checks.ScalarAsync(db, "SELECT count(*) FROM invoices WHERE provider = 'btcpay' AND provider_invoice_id = ANY(@ids) AND status = 'settled'", ct, ("ids", ids.ToArray()));
                if (done == ids.Count) break;
                if (watch.Elapsed > timeout) throw new BenchFailure($"only {done} of {ids.Count} invoices settled within {timeout.TotalSeconds:0} s");
                // The rate is taken from settled_at, not from when this poll saw the last one: polling less often costs no precision.
                await Task.Delay(250, ct);
            }
            await using var cmd = new NpgsqlCommand("SELECT provider_invoice_id, settled_at FROM invoices WHERE provider = 'btcpay' AND provider_invoice_id = ANY(@ids)", db);
            cmd.Parameters.AddWithValue("ids", ids.ToArray());
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var result = new Dictionary<string, DateTime>(StringComparer.Ordinal);
            while (await reader.ReadAsync(ct)) result[reader.GetString(0)] = reader.GetDateTime(1);
            return result;
        }

        /// <summary>
        /// BTCPay redelivers (same originalDeliveryId: the same event) and a second, distinct event for some invoices;
        /// once the inbox is drained every bench invoice must be settled exactly once and the whole ledger must hold.
        /// </summary>
        private async Task RedeliverAndCheckAsync(HttpClient http, ServerProcess server, List<string> invoices, CancellationToken ct)
        {
            var redelivered = invoices.Where((_, i) => i % 10 == 0).ToList();
            var secondEvent = invoices.Where((_, i) => i % 10 == 5).ToList();
            Step($"redelivering {redelivered.Count} webhooks and sending {secondEvent.Count} second events");
            var a = await Load.ClosedLoopAsync(16, redelivered, async id =>
            {
                using var r = await SendWebhookAsync(http, server, id, "redelivery-" + id, "delivery-" + id, ct);
                return r.StatusCode == HttpStatusCode.OK;
            });
            var b = await Load.ClosedLoopAsync(16, secondEvent, async id =>
            {
                using var r = await SendWebhookAsync(http, server, id, "second-" + id, null, ct);
                return r.StatusCode == HttpStatusCode.OK;
            });
            if (a.Errors + b.Errors > 0) throw new BenchFailure($"{a.Errors + b.Errors} duplicate webhooks were not answered 200");

            await using var db = new NpgsqlConnection(Db(BenchDatabase));
            await db.OpenAsync(ct);
            var watch = Stopwatch.StartNew();
            while (await Checks.ScalarAsync(db, "SELECT count(*) FROM payment_events WHERE processed_at IS NULL", ct) > 0)
            {
                if (watch.Elapsed > TimeSpan.FromSeconds(120)) throw new BenchFailure("the payment inbox did not drain within 120 s");
                await Task.Delay(100, ct);
            }
            Step("checking: every bench invoice settled exactly once; the whole ledger");
            var ids = invoices.ToArray();
            // Every query names the provider, so the (provider, provider_invoice_id) index finds the bench's invoices.
            async Task Expect(string what, string sql, long expected, string[]? values = null)
            {
                var actual = await Checks.ScalarAsync(db, sql, ct, ("ids", values ?? ids));
                if (actual != expected) throw new BenchFailure($"{what}: {actual}, expected {expected}");
            }
            await Expect("settled bench invoices", "SELECT count(*) FROM invoices WHERE provider = 'btcpay' AND provider_invoice_id = ANY(@ids) AND status = 'settled'", ids.Length);
            await Expect("sale postings of bench invoices",
                "SELECT count(*) FROM ledger_postings p JOIN invoices i ON i.id = p.invoice_id WHERE i.provider = 'btcpay' AND i.provider_invoice_id = ANY(@ids) AND p.kind = 'sale'", ids.Length);
            await Expect("bench invoices with more than one posting or commission",
                "SELECT count(*) FROM invoices i WHERE i.provider = 'btcpay' AND i.provider_invoice_id = ANY(@ids) AND ((SELECT count(*) FROM ledger_postings p WHERE p.invoice_id = i.id) <> 1 " +
                "OR (SELECT count(*) FROM commissions k WHERE k.invoice_id = i.id) > 1)", 0);
            await Expect("payment.settled outbox messages of bench invoices",
                "SELECT count(*) FROM outbox_messages m WHERE m.type = 'payment.settled' AND m.dedupe_key IN " +
                "(SELECT 'payment.settled:' || i.id FROM invoices i WHERE i.provider = 'btcpay' AND i.provider_invoice_id = ANY(@ids))", ids.Length);
            await Expect("second events answered already_settled",
                "SELECT count(*) FROM payment_events WHERE provider = 'btcpay' AND event_id = ANY(@ids) AND outcome = 'already_settled'",
                secondEvent.Count, secondEvent.Select(id => "second-" + id).ToArray());
            await Checks.LedgerAsync(db, ct);
            Figure("exactly once", $"{ids.Length} invoices settled once each after {redelivered.Count} redeliveries and {secondEvent.Count} second events; ledger balanced");
        }

        /// <summary>TPC-B on its own database of the same server, at each of the bench's concurrencies.</summary>
        private async Task<Dictionary<int, double>> PgbenchAsync(CancellationToken ct)
        {
            var result = new Dictionary<int, double>();
            var builder = new NpgsqlConnectionStringBuilder(o.Postgres);
            // pgbench's own advice: a scale below the number of clients measures contention on its few branch rows.
            var scale = o.Levels.Max();
            await RecreateDatabaseAsync(PgbenchDatabase, ct);
            Step($"pgbench -i -s {scale}");
            await PgbenchRunAsync(builder, ct, "-i", "-q", "-s", scale.ToString(CultureInfo.InvariantCulture), PgbenchDatabase);
            foreach (var level in o.Levels)
            {
                var c = level.ToString(CultureInfo.InvariantCulture);
                var machine0 = ProcStats.MachineBusy();
                await using var postgres = new BackendCpuSampler(PgbenchDatabase);
                var output = await PgbenchRunAsync(builder, ct, "-c", c, "-j", c, "-T", o.PgbenchSeconds.ToString(CultureInfo.InvariantCulture), PgbenchDatabase);
                // No tps line when not one transaction finished in the time (a saturated machine).
                var tpsLine = output.Split('\n').FirstOrDefault(x => x.StartsWith("tps = ", StringComparison.Ordinal));
                var tps = tpsLine is null ? 0 : double.Parse(tpsLine["tps = ".Length..].Split(' ')[0], CultureInfo.InvariantCulture);
                result[level] = tps;
                var postgresCpu = await postgres.StopAsync();
                var transactions = tps * o.PgbenchSeconds;
                Figure($"pgbench c={level}", $"{tps:0.0} tps (TPC-B, scale {scale}, -j {level}, {o.PgbenchSeconds} s; whole machine CPU {(ProcStats.MachineBusy() - machine0).TotalSeconds:0.0} s; " +
                       $"PostgreSQL {(transactions > 0 ? postgresCpu.TotalMilliseconds / transactions : double.NaN):0.00} ms per transaction)");
            }
            await using var admin = new NpgsqlConnection(Db("postgres"));
            await admin.OpenAsync(ct);
            await Seeder.ExecAsync(admin, $"DROP DATABASE IF EXISTS {PgbenchDatabase} WITH (FORCE)", ct);
            return result;
        }

        private static async Task<string> PgbenchRunAsync(NpgsqlConnectionStringBuilder pg, CancellationToken ct, params string[] args)
        {
            var psi = new ProcessStartInfo("pgbench") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-h"); psi.ArgumentList.Add(pg.Host ?? "127.0.0.1");
            psi.ArgumentList.Add("-p"); psi.ArgumentList.Add(pg.Port.ToString(CultureInfo.InvariantCulture));
            psi.ArgumentList.Add("-U"); psi.ArgumentList.Add(pg.Username ?? "postgres");
            foreach (var a in args) psi.ArgumentList.Add(a);
            if (pg.Password is not null) psi.Environment["PGPASSWORD"] = pg.Password;
            using var p = Process.Start(psi) ?? throw new BenchFailure("pgbench could not be started");
            var stdout = p.StandardOutput.ReadToEndAsync(ct);
            var stderr = p.StandardError.ReadToEndAsync(ct);
            await p.WaitForExitAsync(ct);
            if (p.ExitCode != 0) throw new BenchFailure($"pgbench {string.Join(' ', args)} exited with {p.ExitCode}: {await stderr}");
            return await stdout;
        }

        /// <summary>Profiles of random users at a fixed 200/s (open loop); max throughput vs /health; the month's leaderboard.</summary>
        private async Task ReadsAsync(HttpClient http, ServerProcess server, Guid[] userIds, CancellationToken ct)
        {
            using var reads = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 4096 }) { Timeout = TimeSpan.FromSeconds(10) };
            reads.DefaultRequestHeaders.Authorization = http.DefaultRequestHeaders.Authorization;
            async Task<bool> Get(string path)
            {
                using var r = await reads.GetAsync(server.BaseUrl + path, HttpCompletionOption.ResponseContentRead, ct);
                return r.StatusCode == HttpStatusCode.OK;
            }
            string RandomUser() => "/api/v1/users/" + userIds[Random.Shared.Next(userIds.Length)].ToString("D");

            // Warm-up (not measured): JIT tiering, connection pools. A profile slower than the time-out is measured below, not here.
            Step("warm-up: 2 s of profile, health and leaderboard reads, 8 concurrent (not measured)");
            async Task<bool> Tolerant(string path)
            {
                try { return await Get(path); }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { return false; }
            }
            await Load.ClosedLoopForAsync(8, TimeSpan.FromSeconds(2), async () => await Tolerant(RandomUser()) & await Tolerant("/health")
                & await Tolerant("/api/v1/leaderboard?period=month"));

            // The settlement phase leaves outbox messages behind (three per settlement). The issue measures reads, not
            // reads competing with that backlog's dispatch, so the figure is taken once it is drained; the p99 during
            // the backlog is printed too, as its own figure.
            var backlog = await OutboxBacklogAsync(ct);
            if (backlog > 0)
            {
                Step($"GET /api/v1/users/{{id}} at 200/s for {o.ReadSeconds} s during the outbox backlog ({backlog} messages due; open loop)");
                var during = await Load.OpenLoopAsync(200, TimeSpan.FromSeconds(o.ReadSeconds), () => Get(RandomUser()));
                Figure("users p99 at 200/s during the outbox backlog", $"{during.Percentile(99):0.0} ms ({backlog} messages due at the start; {during.Summary()})");
                var drainWatch = Stopwatch.StartNew();
                while ((backlog = await OutboxBacklogAsync(ct)) > 0 && drainWatch.Elapsed < TimeSpan.FromMinutes(5))
                    await Task.Delay(250, ct);
                Step($"outbox drained in a further {drainWatch.Elapsed.TotalSeconds:0.0} s ({backlog} due messages left); the reads below are measured without the backlog");
            }
            Step($"GET /api/v1/users/{{id}} at 200/s for {o.ReadSeconds} s (open loop)");
            var users = await Load.OpenLoopAsync(200, TimeSpan.FromSeconds(o.ReadSeconds), () => Get(RandomUser()));
            Figure("users p99 at 200/s", $"{users.Percentile(99):0.0} ms ({users.Summary()})");

            var seconds = TimeSpan.FromSeconds(Math.Max(2, o.ReadSeconds / 2));
            Step($"throughput, 16 concurrent, {seconds.TotalSeconds} s each in alternating 0.5 s slices: GET /api/v1/users/{{id}} and GET /health");
            var ((usersMax, usersRate), (healthMax, healthRate)) = await Load.AlternatingClosedLoopsAsync(16, seconds, TimeSpan.FromMilliseconds(500),
                () => Get(RandomUser()), () => Get("/health"));
            Figure("users/health throughput ratio", $"{(healthRate > 0 ? usersRate / healthRate : double.NaN):0.00} (users {usersRate:0}/s: {usersMax.Summary()}; health {healthRate:0}/s: {healthMax.Summary()})");

            Step($"GET /api/v1/leaderboard?period=month at 10/s for {o.ReadSeconds} s (open loop)");
            var board = await Load.OpenLoopAsync(10, TimeSpan.FromSeconds(o.ReadSeconds), () => Get("/api/v1/leaderboard?period=month"));
            Figure("leaderboard month p99", $"{board.Percentile(99):0.0} ms ({board.Summary()})");
            // Slow reads are a figure, not a failure: only the quick run's small database must answer.
            if (o.Quick && (users.Count == 0 || board.Count == 0)) throw new BenchFailure("no read succeeded on the quick database");
        }

        /// <summary>Earlier runs' settled invoices of this database, known to the stand-in as a real BTCPay would know them.</summary>
        private async Task RememberEarlierInvoicesAsync(BtcPayStandIn standIn, CancellationToken ct)
        {
            await using var c = new NpgsqlConnection(Db(BenchDatabase));
            await c.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand(
                "SELECT provider_invoice_id, amount_sats, id FROM invoices WHERE provider = 'btcpay' AND status = 'settled' AND provider_invoice_id LIKE 'bench-%'", c);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var n = 0;
            while (await reader.ReadAsync(ct))
            {
                standIn.RememberPaid(reader.GetString(0), reader.GetInt64(1), reader.GetGuid(2).ToString("D"));
                n++;
            }
            if (n > 0) Step($"the BTCPay stand-in knows {n} settled invoices of earlier runs (reconciliation re-reads them)");
        }

        /// <summary>Outbox messages due and not yet dispatched.</summary>
        private async Task<long> OutboxBacklogAsync(CancellationToken ct)
        {
            await using var c = new NpgsqlConnection(Db(BenchDatabase));
            await c.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT count(*) FROM outbox_messages WHERE completed_at IS NULL AND available_at <= now()", c);
            return (long)(await cmd.ExecuteScalarAsync(ct))!;
        }

        /// <summary>Process start → /health 200 on a fresh SQLite file (migrations included), three times (once when quick); the slowest.</summary>
        private async Task<TimeSpan> SqliteStartupAsync(HttpClient http, BtcPayStandIn standIn, CancellationToken ct)
        {
            var times = new List<TimeSpan>();
            for (var run = 0; run < (o.Quick ? 1 : 3); run++)
            {
                var dir = Directory.CreateDirectory(Path.Combine(_work, "sqlite-" + run)).FullName;
                var settings = new Dictionary<string, string>
                {
                    ["Database:Provider"] = "sqlite",
                    ["ConnectionStrings:Satsub"] = "Data Source=" + Path.Combine(dir, "satsub.db"),
                    ["Payments:Provider"] = "btcpay",
                    ["Payments:BtcPay:Url"] = standIn.BaseUrl,
                    ["Payments:BtcPay:ApiKey"] = BtcPayStandIn.ApiKey,
                    ["Payments:BtcPay:StoreId"] = BtcPayStandIn.StoreId,
                    ["Payments:BtcPay:WebhookSecret"] = WebhookSecret,
                };
                var watch = Stopwatch.StartNew();
                await using var server = ServerProcess.Start(o.Satsub, dir, settings, Path.Combine(_work, "sqlite-server.log"), "serve");
                times.Add(await server.WaitHealthyAsync(http, watch, TimeSpan.FromSeconds(60), ct));
            }
            Figure("start-up to /health 200 (SQLite, fresh file)", string.Join(", ", times.Select(t => $"{t.TotalSeconds:0.00} s")));
            return times.Max();
        }
    }
}
