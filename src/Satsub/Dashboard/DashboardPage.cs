using System.Globalization;
using System.Text;
using Satsub.Data;
using static Satsub.Transparency.WebPages;

namespace Satsub.Dashboard;

/// <summary>The dashboard's HTML: KPIs, charts, top affiliates, payouts awaiting the owner, open flags and plans.</summary>
internal static class DashboardPage
{
    public static string Render(DashboardView v, string keyName, string csrfToken, string csrfField, string? done, string? error)
    {
        var t = v.Totals;
        var b = new StringBuilder();
        var csrf = $"<input type=\"hidden\" name=\"{csrfField}\" value=\"{H(csrfToken)}\">";
        b.Append("<header><h1>Satsub admin</h1><form class=\"inline\" method=\"post\" action=\"/admin/logout\">").Append(csrf)
         .Append("<span class=\"who\">").Append(H(keyName)).Append("</span> <button type=\"submit\" id=\"sign-out\">Sign out</button></form>")
         .Append(" · <a href=\"/transparency\">public page</a></header><main>");
        if (done is "approved" or "rejected") b.Append("<p class=\"notice\" id=\"notice\" role=\"status\">Payout ").Append(done).Append(".</p>");
        if (!string.IsNullOrEmpty(error)) b.Append("<p class=\"error\" id=\"error\" role=\"alert\">That did not work: ").Append(H(error)).Append(".</p>");

        b.Append("<section id=\"kpis\"><h2>Key figures</h2><div class=\"kpis\">");
        Kpi(b, "Sales (all time)", $"{t.SalesCount} · {Sats(t.SalesSats)}");
        Kpi(b, $"Sales (last {DashboardData.Days} days)", $"{v.Sales30Days} · {Sats(v.SalesSats30Days)}");
        Kpi(b, "Refunds", $"{t.RefundsCount} · {Sats(t.RefundsSats)}");
        Kpi(b, "Owner's share", Sats(t.OwnerShareSats));
        Kpi(b, "Commissions on hold", Sats(t.CommissionsPendingSats));
        Kpi(b, "Commissions available", Sats(t.CommissionsAvailableSats));
        Kpi(b, "Payouts in flight", Sats(t.CommissionsInFlightSats));
        Kpi(b, "Commissions paid", $"{t.PayoutsCount} · {Sats(t.CommissionsPaidSats)}");
        Kpi(b, "Users", v.Users.ToString(CultureInfo.InvariantCulture));
        Kpi(b, "Active subscriptions", v.ActiveSubscriptions.ToString(CultureInfo.InvariantCulture));
        b.Append("</div></section>");

        b.Append("<section id=\"charts\"><div class=\"charts\"><div><h2>Sales per day</h2>")
         .Append(Chart("days-chart", "Sales per day split between the owner and affiliates", "bar",
             v.Days.Select(d => d.Day.ToString("MM-dd", CultureInfo.InvariantCulture)),
             [
                 new { label = "Owner", data = v.Days.Select(d => d.OwnerSats), backgroundColor = "#1f2937" },
                 new { label = "Affiliates", data = v.Days.Select(d => d.AffiliateSats), backgroundColor = "#f59e0b" },
             ], stacked: true))
         .Append("</div><div><h2>Split to date</h2>")
         .Append(Chart("split-chart", "How sales to date split", "doughnut", ["Owner", "Affiliates", "Payout fees"],
             [new { label = "sats", data = new[] { Math.Max(0, t.OwnerShareSats), Math.Max(0, t.CommissionsAccruedSats), Math.Max(0, t.PayoutFeesSats) },
                 backgroundColor = new[] { "#1f2937", "#f59e0b", "#9ca3af" } }]))
         .Append("</div></div></section>");

        b.Append("<section id=\"payouts\"><h2>Payouts awaiting action</h2>");
        if (v.Payouts.Count == 0)
        {
            b.Append("<p class=\"muted\">None.</p>");
        }
        else
        {
            b.Append("<div class=\"table-wrap\"><table><thead><tr><th>Requested</th><th>Affiliate</th><th class=\"num\">Amount</th><th>To</th><th>Status</th><th>Action</th></tr></thead><tbody>");
            foreach (var p in v.Payouts)
            {
                var status = EnumNames.ToSnake(p.Status);
                b.Append("<tr data-payout=\"").Append(p.Id.ToString("D")).Append("\"><td>").Append(When(p.RequestedAt)).Append("</td><td>")
                 .Append(H(p.Username ?? p.UserId.ToString("D"))).Append("</td><td class=\"num\">").Append(Sats(p.AmountSats)).Append("</td><td>")
                 .Append(H(p.DestinationType)).Append("</td><td class=\"status\">").Append(H(status)).Append("</td><td>");
                if (p.Status == Payouts.PayoutStatus.Requested)
                {
                    b.Append("<form class=\"inline\" method=\"post\" action=\"/admin/payouts/").Append(p.Id.ToString("D")).Append("/approve\">").Append(csrf)
                     .Append("<button type=\"submit\" class=\"approve\">Approve</button></form> ");
                }
                b.Append("<form class=\"inline\" method=\"post\" action=\"/admin/payouts/").Append(p.Id.ToString("D")).Append("/reject\">").Append(csrf)
                 .Append("<input type=\"hidden\" name=\"reason\" value=\"rejected from the dashboard\"><button type=\"submit\" class=\"secondary reject\">Reject</button></form>")
                 .Append("</td></tr>");
            }
            b.Append("</tbody></table></div>");
        }
        b.Append("</section>");

        b.Append("<section id=\"top-affiliates\"><h2>Top affiliates</h2>");
        if (v.TopAffiliates.Count == 0)
        {
            b.Append("<p class=\"muted\">No commissions yet.</p>");
        }
        else
        {
            b.Append("<div class=\"table-wrap\"><table><thead><tr><th>#</th><th>Affiliate</th><th>Username</th><th class=\"num\">Sales</th><th class=\"num\">Commission</th></tr></thead><tbody>");
            var rank = 0;
            foreach (var a in v.TopAffiliates)
            {
                b.Append("<tr><td>").Append(++rank).Append("</td><td>").Append(H(a.Name)).Append("</td><td>").Append(H(a.Username)).Append("</td><td class=\"num\">")
                 .Append(a.Sales).Append("</td><td class=\"num\">").Append(Sats(a.CommissionSats)).Append("</td></tr>");
            }
            b.Append("</tbody></table></div>");
        }
        b.Append("</section>");

        b.Append("<section id=\"flags\"><h2>Open flags</h2>");
        if (v.Flags.Count == 0)
        {
            b.Append("<p class=\"muted\">Nothing to look at.</p>");
        }
        else
        {
            b.Append("<div class=\"table-wrap\"><table><thead><tr><th>Raised</th><th>Kind</th><th>Subject</th><th>Detail</th></tr></thead><tbody>");
            foreach (var f in v.Flags)
            {
                b.Append("<tr><td>").Append(When(f.CreatedAt)).Append("</td><td>").Append(H(f.Kind)).Append("</td><td>").Append(H(f.Subject))
                 .Append("</td><td class=\"wrap\">").Append(H(f.Detail)).Append("</td></tr>");
            }
            b.Append("</tbody></table></div>");
        }
        b.Append("</section>");

        b.Append("<section id=\"plans\"><h2>Plans</h2><div class=\"table-wrap\"><table><thead><tr><th>Code</th><th>Name</th><th class=\"num\">Price</th><th class=\"num\">Days</th><th>Active</th></tr></thead><tbody>");
        foreach (var p in v.Plans)
        {
            var price = p.PriceSats is { } sats ? Sats(sats) : $"{p.FiatAmount?.ToString(CultureInfo.InvariantCulture)} {p.FiatCurrency}";
            b.Append("<tr><td>").Append(H(p.Code)).Append("</td><td>").Append(H(p.Name)).Append("</td><td class=\"num\">").Append(H(price))
             .Append("</td><td class=\"num\">").Append(p.DurationDays).Append("</td><td>").Append(p.Active ? "yes" : "no").Append("</td></tr>");
        }
        b.Append("</tbody></table></div></section>");
        b.Append("<p class=\"muted\">As of ").Append(When(v.AsOf)).Append(".</p></main>");
        return b.ToString();
    }

    private static string When(DateTimeOffset at) => H(at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture));

    private static void Kpi(StringBuilder b, string label, string value) =>
        b.Append("<div class=\"kpi\"><div class=\"label\">").Append(H(label)).Append("</div><div class=\"value\">").Append(H(value)).Append("</div></div>");
}
