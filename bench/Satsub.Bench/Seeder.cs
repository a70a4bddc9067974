using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace Satsub.Bench;

/// <summary>
/// Fills a migrated Satsub database with <c>users</c> users and two settled sales each, exactly as the inbox and
/// settlement would have written them with <c>Affiliate:HoldDays=0</c> and no tiers: the invoice, the subscription
/// (two consecutive 30-day periods), the sale posting and its entries (customer_payments −sale, owner_revenue, the
/// direct referrer's available account at <c>floor(sale × 5000 / 10000)</c>), the commission and both payment_events
/// rows (the webhook's, then the settlement's). Historical outbox messages are not seeded: they would long have been
/// delivered. Every table is filled with binary COPY on its own connection, all at once, with the secondary indexes
/// and foreign keys dropped during the load and rebuilt afterwards (one sort per index instead of a million inserts).
/// </summary>
internal sealed class Seeder(string connectionString, int users, int seed)
{
    public const int BaseBps = 5000;
    private static readonly string[] Tables = ["users", "subscriptions", "invoices", "ledger_postings", "ledger_entries", "commissions", "payment_events"];
    private const string CodeAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    public Guid[] UserIds { get; private set; } = [];

    public sealed record Timings(TimeSpan Copy, TimeSpan Indexes, TimeSpan Check, long Rows);

    public async Task<Timings> RunAsync(CancellationToken ct)
    {
        await using var admin = new NpgsqlConnection(connectionString);
        await admin.OpenAsync(ct);
        var indexes = await ReadAsync(admin,
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(@t) " +
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)", ct);
        var foreignKeys = await ReadAsync(admin,
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(@t)", ct);
        foreach (var (table, name, _) in foreignKeys) await ExecAsync(admin, $"ALTER TABLE {table} DROP CONSTRAINT {name}", ct);
        foreach (var (_, name, _) in indexes) await ExecAsync(admin, $"DROP INDEX {name}", ct);

        var copyWatch = Stopwatch.StartNew();
        var rows = await CopyAsync(ct);
        copyWatch.Stop();

        var indexWatch = Stopwatch.StartNew();
        await ExecAsync(admin, "SET maintenance_work_mem = '512MB'", ct);
        foreach (var (_, _, def) in indexes) await ExecAsync(admin, def, ct);
        foreach (var (table, name, def) in foreignKeys) await ExecAsync(admin, $"ALTER TABLE {table} ADD CONSTRAINT {name} {def}", ct);
        await ExecAsync(admin, "ANALYZE", ct);
        indexWatch.Stop();

        var checkWatch = Stopwatch.StartNew();
        await Checks.LedgerAsync(admin, ct);
        var settled = await Checks.ScalarAsync(admin, "SELECT count(*) FROM invoices WHERE status = 'settled'", ct);
        if (settled != 2L * users) throw new BenchFailure($"seeding: {settled} settled invoices, expected {2L * users}");
        checkWatch.Stop();
        return new Timings(copyWatch.Elapsed, indexWatch.Elapsed, checkWatch.Elapsed, rows);
    }

    private async Task<long> CopyAsync(CancellationToken ct)
    {
        var connections = new List<NpgsqlConnection>();
        async Task<NpgsqlBinaryImporter> Open(string copy)
        {
            var c = new NpgsqlConnection(connectionString);
            connections.Add(c);
            await c.OpenAsync(ct);
            await ExecAsync(c, "SET synchronous_commit = off", ct);
            return await c.BeginBinaryImportAsync(copy, ct);
        }
        try
        {
            var u = await Open("COPY users (id, platform, external_id, username, referrer_id, referral_code, created_at, hidden_from_leaderboard) FROM STDIN (FORMAT BINARY)");
            var s = await Open("COPY subscriptions (id, user_id, plan_code, status, created_at, starts_at, expires_at) FROM STDIN (FORMAT BINARY)");
            var inv = await Open("COPY invoices (id, subscription_id, user_id, plan_code, duration_days, provider, provider_invoice_id, method, amount_sats, payment_uri, status, created_at, expires_at, settled_at, period_start, period_end, settlement_posting_id) FROM STDIN (FORMAT BINARY)");
            var p = await Open("COPY ledger_postings (id, idempotency_key, kind, created_at, invoice_id, rate_bps) FROM STDIN (FORMAT BINARY)");
            var e = await Open("COPY ledger_entries (posting_id, account, amount_sats) FROM STDIN (FORMAT BINARY)");
            var c = await Open("COPY commissions (id, affiliate_id, buyer_id, invoice_id, plan_code, sale_sats, rate_bps, amount_sats, state, created_at, available_at, posting_id) FROM STDIN (FORMAT BINARY)");
            var ev = await Open("COPY payment_events (provider, event_id, invoice_id, provider_invoice_id, kind, attempts, next_attempt_at, received_at, processed_at, outcome) FROM STDIN (FORMAT BINARY)");

            var random = new Random(seed);
            var now = DateTime.UtcNow;
            // Users join between 364 and 34 days ago, in id order, so a referrer always exists before its referrals;
            // the first sale follows within two days and the renewal 30 days later, so the current month has sales,
            // and none is younger than two days (the reconciliation job re-reads the last day's settlements).
            var first = now.AddDays(-364);
            var span = TimeSpan.FromDays(330);
            UserIds = new Guid[users];
            long rowCount = 0;
            for (var i = 0; i < users; i++)
            {
                ct.ThrowIfCancellationRequested();
                var createdAt = Micro(first + span * ((double)i / users));
                var id = Guid.CreateVersion7(createdAt);
                UserIds[i] = id;
                Guid? referrer = null;
                if (i > 0 && random.NextDouble() < 0.7)
                    // A few heavy affiliates among the first thousand, and a long tail.
                    referrer = UserIds[random.NextDouble() < 0.3 ? random.Next(Math.Min(i, 1000)) : random.Next(i)];

                await u.StartRowAsync(ct);
                await u.WriteAsync(id, NpgsqlDbType.Uuid, ct);
                await u.WriteAsync("telegram", NpgsqlDbType.Varchar, ct);
                await u.WriteAsync((100_000_000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), NpgsqlDbType.Varchar, ct);
                await u.WriteAsync("u" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), NpgsqlDbType.Varchar, ct);
                if (referrer is { } r) await u.WriteAsync(r, NpgsqlDbType.Uuid, ct); else await u.WriteNullAsync(ct);
                await u.WriteAsync(Code(i), NpgsqlDbType.Varchar, ct);
                await u.WriteAsync(createdAt, NpgsqlDbType.TimestampTz, ct);
                await u.WriteAsync(false, NpgsqlDbType.Boolean, ct);

                var premium = random.NextDouble() < 0.3;
                var plan = premium ? "premium" : "basic";
                var price = premium ? 25_000L : 10_000L;
                var sale1 = Micro(createdAt + TimeSpan.FromMinutes(random.Next(1, 2 * 24 * 60)));
                var subscriptionId = Guid.CreateVersion7(sale1);
                var period = TimeSpan.FromDays(30);
                await s.StartRowAsync(ct);
                await s.WriteAsync(subscriptionId, NpgsqlDbType.Uuid, ct);
                await s.WriteAsync(id, NpgsqlDbType.Uuid, ct);
                await s.WriteAsync(plan, NpgsqlDbType.Varchar, ct);
                // What a running deployment would hold: the expiry job marked lapsed subscriptions expired as they lapsed
                // (seeding them all active made the server expire ~90% of them during the measurements).
                await s.WriteAsync(sale1 + 2 * period <= now ? "expired" : "active", NpgsqlDbType.Varchar, ct);
                await s.WriteAsync(sale1.AddMinutes(-5), NpgsqlDbType.TimestampTz, ct);
                await s.WriteAsync(sale1, NpgsqlDbType.TimestampTz, ct);
                await s.WriteAsync(sale1 + 2 * period, NpgsqlDbType.TimestampTz, ct);
                rowCount += 2;

                for (var k = 0; k < 2; k++)
                {
                    var at = sale1 + k * period;
                    var invoiceId = Guid.CreateVersion7(at.AddMinutes(-5));
                    var postingId = Guid.CreateVersion7(at);
                    var providerId = $"seed-{i}-{k}";
                    var affiliate = referrer is null ? 0L : price * BaseBps / 10_000;

                    await inv.StartRowAsync(ct);
                    await inv.WriteAsync(invoiceId, NpgsqlDbType.Uuid, ct);
                    await inv.WriteAsync(subscriptionId, NpgsqlDbType.Uuid, ct);
                    await inv.WriteAsync(id, NpgsqlDbType.Uuid, ct);
                    await inv.WriteAsync(plan, NpgsqlDbType.Varchar, ct);
                    await inv.WriteAsync(30, NpgsqlDbType.Integer, ct);
                    await inv.WriteAsync("btcpay", NpgsqlDbType.Varchar, ct);
                    await inv.WriteAsync(providerId, NpgsqlDbType.Varchar, ct);
                    await inv.WriteAsync("lightning", NpgsqlDbType.Varchar, ct);
                    await inv.WriteAsync(price, NpgsqlDbType.Bigint, ct);
                    await inv.WriteAsync("lightning:lnbc1pseed", NpgsqlDbType.Varchar, ct);
                    await inv.WriteAsync("settled", NpgsqlDbType.Varchar, ct);
                    await inv.WriteAsync(at.AddMinutes(-5), NpgsqlDbType.TimestampTz, ct);
                    await inv.WriteAsync(at.AddMinutes(25), NpgsqlDbType.TimestampTz, ct);
                    await inv.WriteAsync(at, NpgsqlDbType.TimestampTz, ct);
                    await inv.WriteAsync(at, NpgsqlDbType.TimestampTz, ct);
                    await inv.WriteAsync(at + period, NpgsqlDbType.TimestampTz, ct);
                    await inv.WriteAsync(postingId, NpgsqlDbType.Uuid, ct);

                    await p.StartRowAsync(ct);
                    await p.WriteAsync(postingId, NpgsqlDbType.Uuid, ct);
                    await p.WriteAsync($"settle:btcpay:{providerId}", NpgsqlDbType.Varchar, ct);
                    await p.WriteAsync("sale", NpgsqlDbType.Varchar, ct);
                    await p.WriteAsync(at, NpgsqlDbType.TimestampTz, ct);
                    await p.WriteAsync(invoiceId, NpgsqlDbType.Uuid, ct);
                    if (referrer is null) await p.WriteNullAsync(ct); else await p.WriteAsync(BaseBps, NpgsqlDbType.Integer, ct);

                    await Entry(e, postingId, "customer_payments", -price, ct);
                    await Entry(e, postingId, "owner_revenue", price - affiliate, ct);
                    rowCount += 4;
                    if (referrer is { } affiliateId)
                    {
                        await Entry(e, postingId, $"affiliate:{affiliateId:D}:available", affiliate, ct);
                        await c.StartRowAsync(ct);
                        await c.WriteAsync(Guid.CreateVersion7(at), NpgsqlDbType.Uuid, ct);
                        await c.WriteAsync(affiliateId, NpgsqlDbType.Uuid, ct);
                        await c.WriteAsync(id, NpgsqlDbType.Uuid, ct);
                        await c.WriteAsync(invoiceId, NpgsqlDbType.Uuid, ct);
                        await c.WriteAsync(plan, NpgsqlDbType.Varchar, ct);
                        await c.WriteAsync(price, NpgsqlDbType.Bigint, ct);
                        await c.WriteAsync(BaseBps, NpgsqlDbType.Integer, ct);
                        await c.WriteAsync(affiliate, NpgsqlDbType.Bigint, ct);
                        await c.WriteAsync("available", NpgsqlDbType.Varchar, ct);
                        await c.WriteAsync(at, NpgsqlDbType.TimestampTz, ct);
                        await c.WriteAsync(at, NpgsqlDbType.TimestampTz, ct);
                        await c.WriteAsync(postingId, NpgsqlDbType.Uuid, ct);
                        rowCount += 2;
                    }

                    // The webhook's row (processed by the inbox), then the one settlement records with its evidence.
                    var delivery = $"seed-delivery-{i}-{k}";
                    await Event(ev, delivery, invoiceId, providerId, "InvoiceSettled", at, at, "settled", ct);
                    await Event(ev, "btcpay:" + delivery, invoiceId, null, "settled", at, null, "settle", ct);
                    rowCount += 2;
                }
            }
            foreach (var importer in new[] { u, s, inv, p, e, c, ev })
            {
                await importer.CompleteAsync(ct);
                await importer.DisposeAsync();
            }
            return rowCount;
        }
        finally
        {
            foreach (var c in connections) await c.DisposeAsync();
        }
    }

    private static async Task Entry(NpgsqlBinaryImporter e, Guid postingId, string account, long amount, CancellationToken ct)
    {
        await e.StartRowAsync(ct);
        await e.WriteAsync(postingId, NpgsqlDbType.Uuid, ct);
        await e.WriteAsync(account, NpgsqlDbType.Varchar, ct);
        await e.WriteAsync(amount, NpgsqlDbType.Bigint, ct);
    }

    private static async Task Event(NpgsqlBinaryImporter ev, string eventId, Guid invoiceId, string? providerInvoiceId, string kind,
        DateTime at, DateTime? nextAttemptAt, string outcome, CancellationToken ct)
    {
        await ev.StartRowAsync(ct);
        await ev.WriteAsync("btcpay", NpgsqlDbType.Varchar, ct);
        await ev.WriteAsync(eventId, NpgsqlDbType.Varchar, ct);
        await ev.WriteAsync(invoiceId, NpgsqlDbType.Uuid, ct);
        if (providerInvoiceId is null) await ev.WriteNullAsync(ct); else await ev.WriteAsync(providerInvoiceId, NpgsqlDbType.Varchar, ct);
        await ev.WriteAsync(kind, NpgsqlDbType.Varchar, ct);
        await ev.WriteAsync(1, NpgsqlDbType.Integer, ct);
        if (nextAttemptAt is { } next) await ev.WriteAsync(next, NpgsqlDbType.TimestampTz, ct); else await ev.WriteNullAsync(ct);
        await ev.WriteAsync(at, NpgsqlDbType.TimestampTz, ct);
        await ev.WriteAsync(at, NpgsqlDbType.TimestampTz, ct);
        await ev.WriteAsync(outcome, NpgsqlDbType.Varchar, ct);
    }

    /// <summary>A unique code of the product's shape (10 lower-case Crockford base32 symbols), from the user's number.</summary>
    private static string Code(int i)
    {
        Span<char> chars = stackalloc char[10];
        // Spread consecutive numbers over the alphabet (an odd multiplier is a bijection modulo 2^50).
        var v = (ulong)i * 0x9E3779B97F4A7C15UL & ((1UL << 50) - 1);
        for (var k = 9; k >= 0; k--)
        {
            chars[k] = CodeAlphabet[(int)(v & 31)];
            v >>= 5;
        }
        return new string(chars);
    }

    /// <summary>PostgreSQL keeps microseconds; so does the product's value converter.</summary>
    private static DateTime Micro(DateTime t) => new(t.Ticks - t.Ticks % 10, DateTimeKind.Utc);

    private static async Task<List<(string, string, string)>> ReadAsync(NpgsqlConnection c, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        cmd.Parameters.AddWithValue("t", Tables);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<(string, string, string)>();
        while (await reader.ReadAsync(ct)) list.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return list;
    }

    internal static async Task ExecAsync(NpgsqlConnection c, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
