using System.Text;
using static Satsub.Transparency.WebPages;

namespace Satsub.Transparency;

/// <summary>The public page: the split rule in words, the tier table, totals to date, the last 12 months and the reports.</summary>
internal static class TransparencyPage
{
    public static string Render(TransparencySnapshot s, ReportSigner? signer)
    {
        var r = s.Rules;
        var t = s.Totals;
        var b = new StringBuilder();
        b.Append("<header><h1>Transparency</h1></header><main>");

        b.Append("<section id=\"rules\"><h2>How every sale is split</h2>")
         .Append("<p>When a customer pays, the affiliate who referred that customer directly gets <strong>").Append(Percent(r.AffiliateBaseBps))
         .Append("</strong> of the sale and the owner keeps <strong>").Append(Percent(r.OwnerBaseBps)).Append("</strong>. ")
         .Append("One level only: nobody is paid for recruiting affiliates, and nobody earns on their referrals' referrals. ")
         .Append("Shares are whole satoshis; the affiliate's share is rounded down and the remainder goes to the owner.</p>")
         .Append("<p>Commission is held for <strong>").Append(r.HoldDays).Append(r.HoldDays == 1 ? " day" : " days")
         .Append("</strong> before it can be withdrawn; a refund inside the hold period reverses it.</p>");
        b.Append("<h2>Tiers</h2>");
        if (r.Tiers.Count == 0)
        {
            b.Append("<p id=\"tiers\">No bonus tiers: every affiliate gets the base rate.</p>");
        }
        else
        {
            b.Append("<div class=\"table-wrap\"><table id=\"tiers\"><thead><tr><th>Tier</th><th>Reached with</th><th class=\"num\">Bonus</th>")
             .Append("<th class=\"num\">Affiliate</th><th class=\"num\">Owner</th></tr></thead><tbody>");
            b.Append("<tr><td>Base</td><td>—</td><td class=\"num\">0%</td><td class=\"num\">").Append(Percent(r.AffiliateBaseBps))
             .Append("</td><td class=\"num\">").Append(Percent(r.OwnerBaseBps)).Append("</td></tr>");
            foreach (var tier in r.Tiers)
            {
                var threshold = tier.MinPayingCustomers is { } c ? $"{c} paying customers" : $"{Sats(tier.MinReferredSalesSats ?? 0)} of referred sales";
                b.Append("<tr><td>").Append(H(tier.Name)).Append("</td><td>").Append(H(threshold)).Append("</td><td class=\"num\">+")
                 .Append(Percent(tier.BonusBps)).Append("</td><td class=\"num\">").Append(Percent(tier.AffiliateBps))
                 .Append("</td><td class=\"num\">").Append(Percent(tier.OwnerBps)).Append("</td></tr>");
            }
            b.Append("</tbody></table></div><p class=\"muted\">Tier bonuses come out of the owner's share.</p>");
        }
        b.Append("</section>");

        b.Append("<section id=\"totals\"><h2>Totals to date</h2><div class=\"kpis\">");
        Kpi(b, "Sales", $"{t.SalesCount} · {Sats(t.SalesSats)}");
        Kpi(b, "Refunds", $"{t.RefundsCount} · {Sats(t.RefundsSats)}");
        Kpi(b, "Owner's share", Sats(t.OwnerShareSats));
        Kpi(b, "Commissions accrued", Sats(t.CommissionsAccruedSats));
        Kpi(b, "Commissions on hold", Sats(t.CommissionsPendingSats));
        Kpi(b, "Commissions available", Sats(t.CommissionsAvailableSats + t.CommissionsInFlightSats));
        Kpi(b, "Commissions paid", Sats(t.CommissionsPaidSats));
        Kpi(b, "Payouts", t.PayoutsCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        b.Append("</div><p class=\"muted\">As of ").Append(H(s.AsOf.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture)))
         .Append(". Available includes payouts being sent.</p></section>");

        b.Append("<section id=\"months\"><h2>The last 12 months</h2>")
         .Append(Chart("months-chart", "Sales per month, split between the owner and affiliates", "bar",
             s.Months.Select(m => m.Month),
             [
                 new { label = "Owner", data = s.Months.Select(m => m.OwnerShareSats), backgroundColor = "#1f2937" },
                 new { label = "Affiliates", data = s.Months.Select(m => m.AffiliateShareSats), backgroundColor = "#f59e0b" },
             ], stacked: true));
        b.Append("<div class=\"table-wrap\"><table><thead><tr><th>Month</th><th class=\"num\">Sales</th><th class=\"num\">Amount</th>")
         .Append("<th class=\"num\">Owner</th><th class=\"num\">Affiliates</th><th>Report</th></tr></thead><tbody>");
        foreach (var m in s.Months.AsEnumerable().Reverse())
        {
            b.Append("<tr><td>").Append(m.Month).Append("</td><td class=\"num\">").Append(m.SalesCount).Append("</td><td class=\"num\">")
             .Append(Sats(m.SalesSats)).Append("</td><td class=\"num\">").Append(Sats(m.OwnerShareSats)).Append("</td><td class=\"num\">")
             .Append(Sats(m.AffiliateShareSats)).Append("</td><td><a href=\"/api/v1/reports/").Append(m.Month).Append("\">JSON</a> · <a href=\"/api/v1/reports/")
             .Append(m.Month).Append("?format=csv\">CSV</a></td></tr>");
        }
        b.Append("</tbody></table></div></section>");

        b.Append("<section id=\"verify\"><h2>Check a report yourself</h2>");
        if (signer is null)
        {
            b.Append("<p>Closed months are final; they are not signed yet because no signing key is configured.</p>");
        }
        else
        {
            b.Append("<p>Each closed month's report is signed with the owner's bitcoin key. Signing address: <code id=\"signing-address\">")
             .Append(H(signer.Address.ToString())).Append("</code> (").Append(signer.Scheme == ReportSigner.LegacyScheme ? "legacy message signing" : "BIP-322")
             .Append(").</p>");
        }
        b.Append("<ol><li>Download the month's CSV and compute its SHA-256 (<code>sha256sum satsub-report-2026-01.csv</code>); it must equal <code>sha256</code> in the JSON.</li>")
         .Append("<li>In Electrum, Sparrow or Bitcoin Core (<code>verifymessage</code>), verify the JSON's <code>signature.message</code> ")
         .Append("(<code>Satsub report YYYY-MM sha256:…</code>) with <code>signature.signature</code> and the address above.</li>")
         .Append("<li>The current month is open: it changes until it closes, and it is not signed.</li></ol></section>");
        b.Append("</main>");
        return b.ToString();
    }

    private static void Kpi(StringBuilder b, string label, string value) =>
        b.Append("<div class=\"kpi\"><div class=\"label\">").Append(H(label)).Append("</div><div class=\"value\">").Append(H(value)).Append("</div></div>");
}
