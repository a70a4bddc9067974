using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates.Rating;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;

namespace Satsub.Affiliates.Standings;

/// <summary>The rating's weights, as the standings' SQL multiplies them.</summary>
public readonly record struct ScoreWeights(long PayingCustomers, long Per100kSats, long Renewals)
{
    public static ScoreWeights From(RatingOptions o) => new(o.PayingCustomers, o.ReferredSalesPer100kSats, o.Renewals);

    public long Score(long payingCustomers, long sales, long salesSats) =>
        payingCustomers * PayingCustomers + salesSats / 100_000 * Per100kSats + (sales - payingCustomers) * Renewals;
}

/// <summary>What a profile shows of an affiliate's standing: balances, counts, tier inputs and the current all-time place.</summary>
public sealed record ProfileStanding(AffiliateBalance Balance, int ReferredUsers, int PayingReferrals, int PayingCustomers, long ReferredSalesSats, int? Rank);

/// <summary>
/// The precomputed affiliate standings: per affiliate (all time) and per affiliate and month, the counts the rating
/// and the profile show — referred users, paying referrals, distinct paying customers, counted sales, referred sales and
/// the score. Same definitions as the grouped query they replace (<see cref="Leaderboard"/>): sales whose commission was
/// not clawed back or reversed, direct referrals only, hidden and erased users left out of places.
/// <para>
/// Correct by construction: every writer (registration with a referrer, settlement, refund clawback, review reversal,
/// hide/unhide, erasure) applies its delta in its own transaction with atomic upserts on the affiliate's own rows only —
/// never a row another affiliate's writes touch. "Distinct customers" stays an exact counter through
/// <c>affiliate_customers</c> (one row per affiliate and buyer). Places depend on everyone's score, so
/// <see cref="RankAsync"/> (a job every 30 s) stores them per score; a read corrects them with the few rows changed
/// since (<c>rank_dirty</c>), so places are exact at once, not 30 s late.
/// </para>
/// </summary>
public static class AffiliateStandings
{
    private const string Uncounted = "('clawed_back', 'reversed')";

    /// <summary>The calendar month (UTC) a commission created at <paramref name="at"/> counts in, as yyyymm.</summary>
    public static int MonthOf(DateTimeOffset at)
    {
        var utc = at.UtcDateTime;
        return utc.Year * 100 + utc.Month;
    }

    /// <summary>A user registered with <paramref name="affiliateId"/> as referrer.</summary>
    public static Task OnReferralAsync(SatsubDbContext db, Guid affiliateId, CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync(
            "INSERT INTO affiliate_standings AS s (affiliate_id, referred_users, paying_referrals, paying_customers, sales, referred_sales_sats, score, visible, rank_dirty) " +
            "SELECT u.id, 1, 0, 0, 0, 0, 0, NOT u.hidden_from_leaderboard AND u.erased_at IS NULL, FALSE FROM users u WHERE u.id = {0} " +
            "ON CONFLICT (affiliate_id) DO UPDATE SET referred_users = s.referred_users + 1",
            [affiliateId], ct);

    /// <summary>A counted commission stopped counting: clawed back by a refund or reversed after review.</summary>
    public static Task OnUncountedAsync(SatsubDbContext db, ScoreWeights weights, Guid affiliateId, Guid buyerId, long saleSats, DateTimeOffset commissionCreatedAt,
        CancellationToken ct) =>
        ApplyAsync(db, weights, affiliateId, buyerId, MonthOf(commissionCreatedAt), saleSats, counted: -1, settled: 0, ct);

    /// <summary>
    /// Several settled sales at once (a settlement batch), in one round trip. Sorted by affiliate so two batches lock
    /// the affiliates' rows in the same order; one affiliate's sales keep their order.
    /// </summary>
    public static Task OnSalesAsync(SatsubDbContext db, ScoreWeights weights, IReadOnlyList<(Guid AffiliateId, Guid BuyerId, long SaleSats)> sales,
        DateTimeOffset commissionCreatedAt, CancellationToken ct)
    {
        if (sales.Count == 0) return Task.CompletedTask;
        var month = MonthOf(commissionCreatedAt);
        if (db.IsPostgres) return OnSalesSetBasedAsync(db, weights, sales, month, ct);
        var sql = new System.Text.StringBuilder();
        var args = new List<object>();
        foreach (var sale in sales.OrderBy(x => x.AffiliateId))
        {
            var offset = args.Count;
            if (sql.Length > 0) sql.Append(";\n");
            sql.Append(System.Text.RegularExpressions.Regex.Replace(ChangeSql, @"\{(\d)\}",
                m => "{" + (offset + (m.Groups[1].Value[0] - '0')).ToString(System.Globalization.CultureInfo.InvariantCulture) + "}"));
            args.AddRange(ChangeArgs(weights, sale.AffiliateId, sale.BuyerId, month, sale.SaleSats, counted: +1, settled: 1));
        }
        return db.Database.ExecuteSqlRawAsync(sql.ToString(), args, ct);
    }

    /// <summary>
    /// PostgreSQL: the whole batch in one statement of four upserts (data-modifying CTEs) instead of six statements per
    /// sale. The sales are summed per affiliate and buyer first (a batch may hold two sales of one buyer); the buyer
    /// counters' new values tell whether the buyer just became a paying referral or a customer (new value = this batch's
    /// count: it was 0 before, as a batch of sales only adds), and each affiliate's rows take their summed deltas, the
    /// score recomputed from the new totals. Rows are written in affiliate order, as the per-sale path does, so two
    /// batches lock them in the same order.
    /// </summary>
    private static Task OnSalesSetBasedAsync(SatsubDbContext db, ScoreWeights w, IReadOnlyList<(Guid AffiliateId, Guid BuyerId, long SaleSats)> sales, int month,
        CancellationToken ct)
    {
        var pairs = sales.GroupBy(x => (x.AffiliateId, x.BuyerId)).OrderBy(g => g.Key.AffiliateId).ThenBy(g => g.Key.BuyerId).ToList();
        var affiliates = pairs.Select(g => g.Key.AffiliateId).ToArray();
        var buyers = pairs.Select(g => g.Key.BuyerId).ToArray();
        var counts = pairs.Select(g => g.Count()).ToArray();
        var sats = pairs.Select(g => g.Sum(x => x.SaleSats)).ToArray();
        return db.Database.ExecuteSqlRawAsync(SetBasedSalesSql, [affiliates, buyers, counts, sats, month, w.PayingCustomers, w.Per100kSats, w.Renewals], ct);
    }

    private static string NewScore(string row) =>
        $"({row}.paying_customers + excluded.paying_customers) * {{5}} + ({row}.referred_sales_sats + excluded.referred_sales_sats) / 100000 * {{6}} + " +
        $"(({row}.sales + excluded.sales) - ({row}.paying_customers + excluded.paying_customers)) * {{7}}";

    // {0} affiliates, {1} buyers, {2} sales per pair, {3} sats per pair (arrays, one entry per affiliate and buyer), {4} month, {5}–{7} the weights.
    private static readonly string SetBasedSalesSql =
        "WITH input AS (SELECT * FROM unnest({0}::uuid[], {1}::uuid[], {2}::int[], {3}::bigint[]) AS t(affiliate_id, buyer_id, n, sats)), " +
        "c AS (INSERT INTO affiliate_customers AS c (affiliate_id, buyer_id, settled_sales, counted_sales) " +
        "  SELECT affiliate_id, buyer_id, n, n FROM input ORDER BY affiliate_id, buyer_id " +
        "  ON CONFLICT (affiliate_id, buyer_id) DO UPDATE SET settled_sales = c.settled_sales + excluded.settled_sales, counted_sales = c.counted_sales + excluded.counted_sales " +
        "  RETURNING c.affiliate_id, c.buyer_id, c.settled_sales, c.counted_sales), " +
        "mc AS (INSERT INTO affiliate_month_customers AS mc (affiliate_id, month, buyer_id, counted_sales) " +
        "  SELECT affiliate_id, {4}, buyer_id, n FROM input ORDER BY affiliate_id, buyer_id " +
        "  ON CONFLICT (affiliate_id, month, buyer_id) DO UPDATE SET counted_sales = mc.counted_sales + excluded.counted_sales " +
        "  RETURNING mc.affiliate_id, mc.buyer_id, mc.counted_sales), " +
        "per_affiliate AS (SELECT i.affiliate_id, sum(i.n)::int AS sales, sum(i.sats)::bigint AS sats, " +
        "  count(*) FILTER (WHERE c.settled_sales = i.n)::int AS new_referrals, count(*) FILTER (WHERE c.counted_sales = i.n)::int AS new_customers, " +
        "  count(*) FILTER (WHERE mc.counted_sales = i.n)::int AS new_month_customers " +
        "  FROM input i JOIN c ON c.affiliate_id = i.affiliate_id AND c.buyer_id = i.buyer_id " +
        "  JOIN mc ON mc.affiliate_id = i.affiliate_id AND mc.buyer_id = i.buyer_id GROUP BY i.affiliate_id), " +
        "s AS (INSERT INTO affiliate_standings AS s (affiliate_id, referred_users, paying_referrals, paying_customers, sales, referred_sales_sats, score, visible, rank_dirty) " +
        "  SELECT p.affiliate_id, 0, p.new_referrals, p.new_customers, p.sales, p.sats, " +
        "    p.new_customers * {5} + p.sats / 100000 * {6} + (p.sales - p.new_customers) * {7}, NOT u.hidden_from_leaderboard AND u.erased_at IS NULL, TRUE " +
        "  FROM per_affiliate p JOIN users u ON u.id = p.affiliate_id ORDER BY p.affiliate_id " +
        "  ON CONFLICT (affiliate_id) DO UPDATE SET paying_referrals = s.paying_referrals + excluded.paying_referrals, " +
        "    paying_customers = s.paying_customers + excluded.paying_customers, sales = s.sales + excluded.sales, " +
        "    referred_sales_sats = s.referred_sales_sats + excluded.referred_sales_sats, score = " + NewScore("s") + ", rank_dirty = TRUE " +
        "  RETURNING s.affiliate_id, s.visible) " +
        "INSERT INTO affiliate_month_standings AS m (affiliate_id, month, paying_customers, sales, referred_sales_sats, score, visible, rank_dirty) " +
        "SELECT p.affiliate_id, {4}, p.new_month_customers, p.sales, p.sats, " +
        "  p.new_month_customers * {5} + p.sats / 100000 * {6} + (p.sales - p.new_month_customers) * {7}, s.visible, TRUE " +
        "FROM per_affiliate p JOIN s ON s.affiliate_id = p.affiliate_id ORDER BY p.affiliate_id " +
        "ON CONFLICT (affiliate_id, month) DO UPDATE SET paying_customers = m.paying_customers + excluded.paying_customers, " +
        "  sales = m.sales + excluded.sales, referred_sales_sats = m.referred_sales_sats + excluded.referred_sales_sats, score = " + NewScore("m") + ", rank_dirty = TRUE";

    // One round trip: the buyer counters first (their new values say whether the buyer became, or stopped being, a
    // customer), then the affiliate's all-time row (which also serializes this affiliate's writers), then the month row.
    // Placeholders: {0} affiliate, {1} buyer, {2} month, {3} counted, {4} settled, {5} sats, {6}–{8} the weights.
    private const string CustomerDelta = "CASE WHEN {3} > 0 AND c.counted_sales = 1 THEN 1 WHEN {3} < 0 AND c.counted_sales = 0 THEN -1 ELSE 0 END";
    private const string Score = "score = paying_customers * {6} + referred_sales_sats / 100000 * {7} + (sales - paying_customers) * {8}";
    private const string ChangeSql =
        "INSERT INTO affiliate_customers (affiliate_id, buyer_id, settled_sales, counted_sales) VALUES ({0}, {1}, {4}, {3}) " +
        "ON CONFLICT (affiliate_id, buyer_id) DO UPDATE SET settled_sales = affiliate_customers.settled_sales + {4}, counted_sales = affiliate_customers.counted_sales + {3};\n" +
        "INSERT INTO affiliate_month_customers (affiliate_id, month, buyer_id, counted_sales) VALUES ({0}, {2}, {1}, {3}) " +
        "ON CONFLICT (affiliate_id, month, buyer_id) DO UPDATE SET counted_sales = affiliate_month_customers.counted_sales + {3};\n" +
        "INSERT INTO affiliate_standings AS s (affiliate_id, referred_users, paying_referrals, paying_customers, sales, referred_sales_sats, score, visible, rank_dirty) " +
        "SELECT u.id, 0, CASE WHEN {4} > 0 AND c.settled_sales = 1 THEN 1 ELSE 0 END, " + CustomerDelta + ", {3}, {5}, 0, " +
        "NOT u.hidden_from_leaderboard AND u.erased_at IS NULL, TRUE " +
        "FROM users u, affiliate_customers c WHERE u.id = {0} AND c.affiliate_id = {0} AND c.buyer_id = {1} " +
        "ON CONFLICT (affiliate_id) DO UPDATE SET paying_referrals = s.paying_referrals + excluded.paying_referrals, " +
        "paying_customers = s.paying_customers + excluded.paying_customers, sales = s.sales + excluded.sales, " +
        "referred_sales_sats = s.referred_sales_sats + excluded.referred_sales_sats, rank_dirty = TRUE;\n" +
        "UPDATE affiliate_standings SET " + Score + " WHERE affiliate_id = {0};\n" +
        "INSERT INTO affiliate_month_standings AS m (affiliate_id, month, paying_customers, sales, referred_sales_sats, score, visible, rank_dirty) " +
        "SELECT s.affiliate_id, {2}, " + CustomerDelta + ", {3}, {5}, 0, s.visible, TRUE " +
        "FROM affiliate_standings s, affiliate_month_customers c WHERE s.affiliate_id = {0} AND c.affiliate_id = {0} AND c.month = {2} AND c.buyer_id = {1} " +
        "ON CONFLICT (affiliate_id, month) DO UPDATE SET paying_customers = m.paying_customers + excluded.paying_customers, " +
        "sales = m.sales + excluded.sales, referred_sales_sats = m.referred_sales_sats + excluded.referred_sales_sats, rank_dirty = TRUE;\n" +
        "UPDATE affiliate_month_standings SET " + Score + " WHERE affiliate_id = {0} AND month = {2}";

    private static object[] ChangeArgs(ScoreWeights w, Guid affiliateId, Guid buyerId, int month, long saleSats, int counted, int settled) =>
        [affiliateId, buyerId, month, counted, settled, counted * saleSats, w.PayingCustomers, w.Per100kSats, w.Renewals];

    private static Task ApplyAsync(SatsubDbContext db, ScoreWeights w, Guid affiliateId, Guid buyerId, int month, long saleSats, int counted, int settled,
        CancellationToken ct) =>
        db.Database.ExecuteSqlRawAsync(ChangeSql, ChangeArgs(w, affiliateId, buyerId, month, saleSats, counted, settled), ct);

    /// <summary>The user was hidden, shown again or erased: their rows follow <c>users</c>.</summary>
    public static Task OnVisibilityChangedAsync(SatsubDbContext db, Guid userId, CancellationToken ct) =>
        // The upsert locks the all-time row first, as the sale path does, so a concurrent first sale cannot miss the change.
        db.Database.ExecuteSqlRawAsync(
            "INSERT INTO affiliate_standings AS s (affiliate_id, referred_users, paying_referrals, paying_customers, sales, referred_sales_sats, score, visible, rank_dirty) " +
            "SELECT u.id, 0, 0, 0, 0, 0, 0, NOT u.hidden_from_leaderboard AND u.erased_at IS NULL, TRUE FROM users u WHERE u.id = {0} " +
            "ON CONFLICT (affiliate_id) DO UPDATE SET visible = excluded.visible, rank_dirty = TRUE;\n" +
            "UPDATE affiliate_month_standings SET visible = (SELECT s.visible FROM affiliate_standings s WHERE s.affiliate_id = {0}), rank_dirty = TRUE " +
            "WHERE affiliate_id = {0}",
            [userId], ct);

    /// <summary>A row of <see cref="ProfileColumns"/> (raw SQL reads into it by column name).</summary>
    internal class ProfileRow
    {
        public long Pending { get; init; }
        public long Available { get; init; }
        public long Paid { get; init; }
        public int? ReferredUsers { get; init; }
        public int? PayingReferrals { get; init; }
        public int? PayingCustomers { get; init; }
        public long? ReferredSalesSats { get; init; }
        public long? Rank { get; init; }
    }

    // The current place of standing s: null unless visible with sales. Exact at any time, whatever the rank job's lag:
    // the stored places count every row at its ranked_score (one key read: 1 + those ranked above s's score), then the
    // rows changed since (rank_dirty, few) are counted at their current score instead of their ranked one. Each part is
    // an index read bounded by the number of changed rows, never by the number of affiliates. period: "0" or "s.month".
    private static string PlaceOf(string table, bool monthly)
    {
        var period = monthly ? "s.month" : "0";
        var inPeriod = monthly ? " AND d.month = s.month" : "";
        return "CASE WHEN s.affiliate_id IS NULL OR NOT (s.visible AND s.sales > 0) THEN NULL ELSE 1 " +
               $"+ COALESCE((SELECT q.place - 1 + q.affiliates FROM affiliate_score_places q WHERE q.month = {period} AND q.score > s.score " +
               "ORDER BY q.score LIMIT 1), 0) " +
               $"+ (SELECT count(*) FROM {table} d WHERE d.rank_dirty{inPeriod} AND d.visible AND d.sales > 0 AND d.score > s.score) " +
               $"- (SELECT count(*) FROM {table} d WHERE d.rank_dirty{inPeriod} AND d.ranked_score > s.score) END";
    }

    /// <summary>
    /// Balances, counts, tier inputs and the all-time place of one user, in one query: the three balances are sums over
    /// the user's ledger accounts (index-only on <c>ledger_entries (account, amount_sats)</c>), the rest one key lookup.
    /// </summary>
    public static async Task<ProfileStanding> ProfileAsync(SatsubDbContext db, Guid userId, CancellationToken ct)
    {
        var sql = $"SELECT {ProfileColumns} FROM (SELECT 1 AS one) AS x LEFT JOIN affiliate_standings s ON s.affiliate_id = {{0}}";
        var row = (await db.Database.SqlQueryRaw<ProfileRow>(sql, ProfileParameters(userId)).ToListAsync(ct)).Single();
        return Standing(row);
    }

    /// <summary>The columns of <see cref="ProfileAsync"/> over standing <c>s</c>: {0} is the user, {1}-{3} their pending, available and paid accounts.</summary>
    internal static readonly string ProfileColumns =
        $"{Balance(1)} AS pending, {Balance(2)} AS available, {Balance(3)} AS paid, " +
        "s.referred_users, s.paying_referrals, s.paying_customers, s.referred_sales_sats, " + PlaceOf("affiliate_standings", monthly: false) + " AS rank";

    private static string Balance(int p) => $"(SELECT CAST(COALESCE(sum(e.amount_sats), 0) AS bigint) FROM ledger_entries e WHERE e.account = {{{p}}})";

    internal static object[] ProfileParameters(Guid userId) =>
        [userId, Accounts.AffiliatePending(userId), Accounts.AffiliateAvailable(userId), Accounts.AffiliatePaid(userId)];

    internal static ProfileStanding Standing(ProfileRow row) =>
        new(new AffiliateBalance(new Sats(row.Pending), new Sats(row.Available), new Sats(row.Paid)),
            row.ReferredUsers ?? 0, row.PayingReferrals ?? 0, row.PayingCustomers ?? 0, row.ReferredSalesSats ?? 0, (int?)row.Rank);

    /// <summary>One row of a leaderboard, with the current place (exact; see the class remarks).</summary>
    public sealed class BoardRow
    {
        public Guid AffiliateId { get; init; }
        public int Sales { get; init; }
        public int PayingCustomers { get; init; }
        public long ReferredSalesSats { get; init; }
        public long Score { get; init; }
        public string? DisplayName { get; init; }
        public long? Rank { get; init; }
    }

    private static string BoardColumns =>
        "s.affiliate_id, s.sales, s.paying_customers, " +
        "s.referred_sales_sats, s.score, u.display_name";

    /// <summary>The first <paramref name="limit"/> visible affiliates with sales in the period (null month: all time), best first.</summary>
    public static Task<List<BoardRow>> TopAsync(SatsubDbContext db, int? month, int limit, CancellationToken ct)
    {
        // Rows without sales score 0 and sort last; the filter drops them without leaving the index order.
        var sql = month is null
            ? $"SELECT {BoardColumns}, CAST(NULL AS bigint) AS rank FROM affiliate_standings s JOIN users u ON u.id = s.affiliate_id " +
              "WHERE s.visible AND s.sales > 0 ORDER BY s.score DESC, s.paying_customers DESC, s.referred_sales_sats DESC, s.affiliate_id LIMIT {0}"
            : $"SELECT {BoardColumns}, CAST(NULL AS bigint) AS rank FROM affiliate_month_standings s JOIN users u ON u.id = s.affiliate_id " +
              "WHERE s.month = {1} AND s.visible AND s.sales > 0 ORDER BY s.score DESC, s.paying_customers DESC, s.referred_sales_sats DESC, s.affiliate_id LIMIT {0}";
        return db.Database.SqlQueryRaw<BoardRow>(sql, month is null ? [limit] : [limit, month.Value]).ToListAsync(ct);
    }

    /// <summary>One affiliate's row and current place in the period (null month: all time); null when they have no row.</summary>
    public static async Task<BoardRow?> OfAsync(SatsubDbContext db, Guid affiliateId, int? month, CancellationToken ct)
    {
        var sql = month is null
            ? $"SELECT {BoardColumns}, {PlaceOf("affiliate_standings", monthly: false)} AS rank FROM affiliate_standings s JOIN users u ON u.id = s.affiliate_id" +
              " WHERE s.affiliate_id = {0}"
            : $"SELECT {BoardColumns}, {PlaceOf("affiliate_month_standings", monthly: true)} AS rank " +
              "FROM affiliate_month_standings s JOIN users u ON u.id = s.affiliate_id WHERE s.affiliate_id = {0} AND s.month = {1}";
        var rows = await db.Database.SqlQueryRaw<BoardRow>(sql, month is null ? [affiliateId] : [affiliateId, month.Value]).ToListAsync(ct);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>
    /// Stores the places of the period (null month: all time), in one transaction: the changed standings take their
    /// current score as <c>ranked_score</c> and are marked clean, then the places per score are recounted from the
    /// <c>ranked_score</c>s (<c>affiliate_score_places</c>: one row per distinct score). Returns the standings ranked anew.
    /// </summary>
    /// <remarks>
    /// Only the rank job writes <c>ranked_score</c> and the places, so within its transaction they agree, and a read
    /// (which sees the transaction whole or not at all) corrects them exactly with the rows still dirty. Cost: an
    /// update of the changed rows and one grouped scan of the ranked scores, where ranking every row with a window
    /// function and rewriting one place per affiliate took seconds at a million users (every place below a changed
    /// score moves). A writer of a changed row waits for this transaction (the update locks the row), not for a scan
    /// of the whole table under a lock of its own.
    /// </remarks>
    public static async Task<int> RankAsync(SatsubDbContext db, int? month, DateTimeOffset now, CancellationToken ct)
    {
        var table = month is null ? "affiliate_standings" : "affiliate_month_standings";
        var dirty = month is null
            ? await db.Set<AffiliateStandingRow>().AnyAsync(s => s.RankDirty, ct)
            : await db.Set<AffiliateMonthStandingRow>().AnyAsync(s => s.RankDirty && s.Month == month, ct);
        if (!dirty) return 0;
        var period = month is null ? "0" : "{1}";
        var inMonth = month is null ? "" : " AND month = {1}";
        object[] parameters = month is null ? [db.Time(now)] : [db.Time(now), month.Value];
        await using var own = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(ct) : null;
        // Two instances' jobs take turns (SQLite has one writer anyway); reads are not blocked by this lock.
        if (db.IsPostgres) await db.Database.ExecuteSqlRawAsync("LOCK TABLE affiliate_score_places IN EXCLUSIVE MODE", ct);
        var eff = "CASE WHEN visible AND sales > 0 THEN score END";
        // On PostgreSQL the rows are locked in affiliate order, the order in which a settlement batch writes them, so the
        // two never wait for each other in a cycle.
        var monthOnly = month is null ? "" : " AND month = {0}";
        var rows = db.IsPostgres
            ? $"affiliate_id IN (SELECT affiliate_id FROM {table} WHERE rank_dirty{monthOnly} ORDER BY affiliate_id FOR UPDATE){monthOnly}"
            : $"rank_dirty{monthOnly}";
        var clean = $"UPDATE {table} SET ranked_score = {eff}, rank_dirty = FALSE WHERE {rows}";
        var ranked = await db.Database.ExecuteSqlRawAsync(clean, month is null ? [] : [month.Value], ct);
        var store =
            $"DELETE FROM affiliate_score_places WHERE month = {period};\n" +
            "INSERT INTO affiliate_score_places (month, score, place, affiliates, computed_at) " +
            $"SELECT {period}, c.ranked_score, CAST(1 + COALESCE(SUM(c.n) OVER (ORDER BY c.ranked_score DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS integer), " +
            "CAST(c.n AS integer), {0} " +
            $"FROM (SELECT ranked_score, count(*) AS n FROM {table} WHERE ranked_score IS NOT NULL{inMonth} GROUP BY ranked_score) AS c";
        await db.Database.ExecuteSqlRawAsync(store, parameters, ct);
        if (own is not null) await own.CommitAsync(ct);
        return ranked;
    }

    /// <summary>
    /// Rebuilds every standing from the source tables (commissions, users) with a few set-based statements in one
    /// transaction, then stores the places of all time and of <paramref name="now"/>'s month. Writers wait meanwhile.
    /// </summary>
    /// <summary>How long a set-based rebuild or rescore may run: minutes on millions of commissions, not the 30 s of a request.</summary>
    internal static readonly TimeSpan BulkCommandTimeout = TimeSpan.FromMinutes(30);

    public static async Task RebuildAsync(SatsubDbContext db, ScoreWeights w, DateTimeOffset now, CancellationToken ct)
    {
        db.Database.SetCommandTimeout(BulkCommandTimeout);
        var monthOf = db.IsPostgres
            ? "(EXTRACT(YEAR FROM created_at AT TIME ZONE 'UTC') * 100 + EXTRACT(MONTH FROM created_at AT TIME ZONE 'UTC'))::integer"
            : "CAST(strftime('%Y%m', created_at / 1000000, 'unixepoch') AS INTEGER)";
        string Score(string customers, string sales, string sats) =>
            $"{customers} * {{0}} + {sats} / 100000 * {{1}} + ({sales} - {customers}) * {{2}}";
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (db.IsPostgres)
        {
            // The writers' order (customers, month customers, standings, month standings): they queue behind the rebuild.
            await db.Database.ExecuteSqlRawAsync(
                "LOCK TABLE affiliate_customers, affiliate_month_customers, affiliate_standings, affiliate_month_standings, affiliate_score_places IN EXCLUSIVE MODE", ct);
        }
        var sql =
            "DELETE FROM affiliate_score_places;\nDELETE FROM affiliate_month_standings;\nDELETE FROM affiliate_standings;\nDELETE FROM affiliate_month_customers;\nDELETE FROM affiliate_customers;\n" +
            "INSERT INTO affiliate_customers (affiliate_id, buyer_id, settled_sales, counted_sales) " +
            $"SELECT affiliate_id, buyer_id, count(*), sum(CASE WHEN state IN {Uncounted} THEN 0 ELSE 1 END) FROM commissions GROUP BY affiliate_id, buyer_id;\n" +
            "INSERT INTO affiliate_month_customers (affiliate_id, month, buyer_id, counted_sales) " +
            $"SELECT affiliate_id, {monthOf}, buyer_id, count(*) FROM commissions WHERE state NOT IN {Uncounted} GROUP BY affiliate_id, {monthOf}, buyer_id;\n" +
            "INSERT INTO affiliate_standings (affiliate_id, referred_users, paying_referrals, paying_customers, sales, referred_sales_sats, score, visible, rank_dirty) " +
            "SELECT u.id, COALESCE(r.n, 0), COALESCE(c.paying, 0), COALESCE(c.customers, 0), COALESCE(k.sales, 0), COALESCE(k.sats, 0), " +
            Score("COALESCE(c.customers, 0)", "COALESCE(k.sales, 0)", "COALESCE(k.sats, 0)") + ", NOT u.hidden_from_leaderboard AND u.erased_at IS NULL, TRUE " +
            "FROM users u " +
            "LEFT JOIN (SELECT referrer_id, count(*) AS n FROM users WHERE referrer_id IS NOT NULL GROUP BY referrer_id) r ON r.referrer_id = u.id " +
            "LEFT JOIN (SELECT affiliate_id, count(*) AS paying, CAST(sum(CASE WHEN counted_sales > 0 THEN 1 ELSE 0 END) AS integer) AS customers " +
            "FROM affiliate_customers GROUP BY affiliate_id) c ON c.affiliate_id = u.id " +
            $"LEFT JOIN (SELECT affiliate_id, count(*) AS sales, CAST(sum(sale_sats) AS bigint) AS sats FROM commissions WHERE state NOT IN {Uncounted} GROUP BY affiliate_id) k " +
            "ON k.affiliate_id = u.id " +
            "WHERE r.n IS NOT NULL OR c.paying IS NOT NULL;\n" +
            "INSERT INTO affiliate_month_standings (affiliate_id, month, paying_customers, sales, referred_sales_sats, score, visible, rank_dirty) " +
            "SELECT k.affiliate_id, k.month, k.customers, k.sales, k.sats, " + Score("k.customers", "k.sales", "k.sats") + ", s.visible, TRUE " +
            $"FROM (SELECT affiliate_id, {monthOf} AS month, count(*) AS sales, count(DISTINCT buyer_id) AS customers, CAST(sum(sale_sats) AS bigint) AS sats " +
            $"FROM commissions WHERE state NOT IN {Uncounted} GROUP BY affiliate_id, {monthOf}) k " +
            "JOIN affiliate_standings s ON s.affiliate_id = k.affiliate_id";
        await db.Database.ExecuteSqlRawAsync(sql, [w.PayingCustomers, w.Per100kSats, w.Renewals], ct);
        await RankAsync(db, null, now, ct);
        await RankAsync(db, MonthOf(now), now, ct);
        await tx.CommitAsync(ct);
        // Fresh statistics: the planner must know that changed rows are few (the partial indexes) right away.
        if (db.IsPostgres)
            await db.Database.ExecuteSqlRawAsync("ANALYZE affiliate_standings, affiliate_month_standings, affiliate_score_places, affiliate_customers, affiliate_month_customers", ct);
    }

    /// <summary>
    /// After the rating's weights changed in the configuration: recomputes the scores that differ (one scan per table).
    /// Returns the rows rescored.
    /// </summary>
    public static async Task<int> RescoreAsync(SatsubDbContext db, ScoreWeights w, CancellationToken ct)
    {
        db.Database.SetCommandTimeout(BulkCommandTimeout);
        const string formula = "paying_customers * {0} + referred_sales_sats / 100000 * {1} + (sales - paying_customers) * {2}";
        var changed = 0;
        foreach (var table in new[] { "affiliate_standings", "affiliate_month_standings" })
        {
            var sql = $"UPDATE {table} SET score = {formula}, rank_dirty = TRUE WHERE score <> {formula}";
            changed += await db.Database.ExecuteSqlRawAsync(sql, [w.PayingCustomers, w.Per100kSats, w.Renewals], ct);
        }
        return changed;
    }

    /// <summary>
    /// True when standings exist but no place was stored per score yet: the upgrade from places stored per affiliate
    /// (migration <c>ScorePlaces</c> adds <c>ranked_score</c> empty; filling it is minutes of writes on a large database,
    /// longer than a migration's command may take).
    /// </summary>
    public static async Task<bool> NeedsScorePlacesAsync(SatsubDbContext db, CancellationToken ct) =>
        !await db.AffiliateScorePlaces.AnyAsync(ct) && await db.AffiliateStandings.AnyAsync(s => s.RankedScore == null && s.Visible && s.Sales > 0, ct);

    /// <summary>
    /// Every standing (all time and every month) takes its current score as <c>ranked_score</c>, and the places per score
    /// are counted from them; dirty flags stay, since a read corrects the stored places with the changed rows whatever
    /// scores they were ranked with. One transaction, so reads see all of it or none.
    /// </summary>
    public static async Task StoreScorePlacesAsync(SatsubDbContext db, DateTimeOffset now, CancellationToken ct)
    {
        db.Database.SetCommandTimeout(BulkCommandTimeout);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (db.IsPostgres) await db.Database.ExecuteSqlRawAsync("LOCK TABLE affiliate_score_places IN EXCLUSIVE MODE", ct);
        const string sql =
            "UPDATE affiliate_standings SET ranked_score = CASE WHEN visible AND sales > 0 THEN score END;\n" +
            "UPDATE affiliate_month_standings SET ranked_score = CASE WHEN visible AND sales > 0 THEN score END;\n" +
            "DELETE FROM affiliate_score_places;\n" +
            "INSERT INTO affiliate_score_places (month, score, place, affiliates, computed_at) " +
            "SELECT c.month, c.ranked_score, CAST(1 + COALESCE(SUM(c.n) OVER (PARTITION BY c.month ORDER BY c.ranked_score DESC " +
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS integer), CAST(c.n AS integer), {0} " +
            "FROM (SELECT 0 AS month, ranked_score, count(*) AS n FROM affiliate_standings WHERE ranked_score IS NOT NULL GROUP BY ranked_score " +
            "UNION ALL SELECT month, ranked_score, count(*) AS n FROM affiliate_month_standings WHERE ranked_score IS NOT NULL GROUP BY month, ranked_score) AS c";
        await db.Database.ExecuteSqlRawAsync(sql, [db.Time(now)], ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>True when standings must be rebuilt: none stored, yet referrals exist (an upgrade, or a bulk load).</summary>
    public static async Task<bool> NeedsRebuildAsync(SatsubDbContext db, CancellationToken ct) =>
        !await db.Set<AffiliateStandingRow>().AnyAsync(ct) && await db.Users.AnyAsync(u => u.ReferrerId != null, ct);
}
