using Npgsql;

namespace Satsub.Bench;

/// <summary>A correctness check failed: the bench exits non-zero whatever the figures.</summary>
internal sealed class BenchFailure(string message) : Exception(message);

/// <summary>The ledger invariants and the exactly-once check, in SQL over the whole database.</summary>
internal static class Checks
{
    /// <summary>
    /// Every posting sums to zero; customer_payments is minus every settled sale; each affiliate's accounts hold
    /// exactly their commissions; every settled invoice has one sale posting and a commission exactly when its
    /// buyer has a referrer.
    /// </summary>
    public static async Task LedgerAsync(NpgsqlConnection c, CancellationToken ct)
    {
        var failures = new List<string>();
        async Task Expect(string what, string sql, long expected = 0)
        {
            var actual = await ScalarAsync(c, sql, ct);
            if (actual != expected) failures.Add($"{what}: {actual} (expected {expected})");
        }
        await Expect("unbalanced postings",
            "SELECT count(*) FROM (SELECT posting_id FROM ledger_entries GROUP BY posting_id HAVING sum(amount_sats) <> 0) x");
        await Expect("sum of all entries", "SELECT coalesce(sum(amount_sats), 0) FROM ledger_entries");
        await Expect("customer_payments + settled sales",
            "SELECT coalesce((SELECT sum(amount_sats) FROM ledger_entries WHERE account = 'customer_payments'), 0) " +
            "+ coalesce((SELECT sum(amount_sats) FROM invoices WHERE status = 'settled'), 0)");
        await Expect("affiliates whose balance is not their commissions",
            "SELECT count(*) FROM (SELECT account, sum(amount_sats) AS s FROM ledger_entries WHERE account LIKE 'affiliate:%' GROUP BY account) b " +
            "FULL JOIN (SELECT 'affiliate:' || affiliate_id || ':' || CASE WHEN state = 'pending' THEN 'pending' ELSE 'available' END AS account, " +
            "sum(amount_sats) AS s FROM commissions GROUP BY 1) k USING (account) WHERE b.s IS DISTINCT FROM k.s");
        await Expect("settled invoices without exactly one sale posting",
            "SELECT count(*) FROM invoices i LEFT JOIN (SELECT invoice_id, count(*) AS n FROM ledger_postings WHERE kind = 'sale' GROUP BY invoice_id) p " +
            "ON p.invoice_id = i.id WHERE i.status = 'settled' AND coalesce(p.n, 0) <> 1");
        await Expect("settled invoices whose commission does not match the referral",
            // commissions.invoice_id is unique: at most one row joins.
            "SELECT count(*) FROM invoices i JOIN users u ON u.id = i.user_id LEFT JOIN commissions k ON k.invoice_id = i.id " +
            "WHERE i.status = 'settled' AND k.affiliate_id IS DISTINCT FROM u.referrer_id");
        await Expect("sale postings of unsettled invoices",
            "SELECT count(*) FROM ledger_postings p JOIN invoices i ON i.id = p.invoice_id WHERE p.kind = 'sale' AND i.status <> 'settled'");
        if (failures.Count > 0) throw new BenchFailure("ledger check failed: " + string.Join("; ", failures));
    }

    public static async Task<long> ScalarAsync(NpgsqlConnection c, string sql, CancellationToken ct, params (string Name, object Value)[] parameters)
    {
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 0 };
        foreach (var (name, value) in parameters) cmd.Parameters.AddWithValue(name, value);
        var result = await cmd.ExecuteScalarAsync(ct);
        return result is null or DBNull ? 0 : Convert.ToInt64(result, System.Globalization.CultureInfo.InvariantCulture);
    }
}
