using System.ComponentModel;
using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Satsub.Api;
using Satsub.Data;
using Satsub.Payments;
using Satsub.Payouts;
using Satsub.Settlement;
using Satsub.Subscriptions;

namespace Satsub.Admin;

public sealed record SettlementView(string InvoiceId, string SubscriptionId, string Status, DateTimeOffset SettledAt,
    DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, long AmountSats, long OwnerShareSats, long AffiliateShareSats, string? AffiliateId);

public sealed record SalesStats(int Count, long AmountSats);

public sealed record CommissionStats(
    [property: Description("Commission earned on sales in the period.")] long AccruedSats,
    [property: Description("Commission sent to affiliates in the period.")] long PaidSats);

public sealed record PayoutStats(int RequestedCount, int SentCount, long SentSats, long FeeSats);

public sealed record Stats(DateTimeOffset From, DateTimeOffset To, SalesStats Sales, long OwnerRevenueSats, int NewUsers,
    [property: Description("Subscriptions active now.")] int ActiveSubscriptions, CommissionStats Commissions, PayoutStats Payouts);

public sealed record AuditItem(string Id, string? ApiKeyId, string? ApiKeyName, string Action, string? Target, string? Details, string? RemoteIp, DateTimeOffset At);

/// <summary><c>/api/v1/admin</c>: sandbox settlement, statistics and the audit log (admin scope).</summary>
public static class AdminApi
{
    public static RouteGroupBuilder MapAdminApi(this RouteGroupBuilder api)
    {
        var admin = api.MapGroup("/admin").WithTags("Admin").RequireAuthorization(ApiCaller.AdminPolicy);
        admin.MapPost("/invoices/{invoice_id}/settle", SettleAsync)
            .WithSummary("Settle a sandbox invoice")
            .WithDescription("Settles a sandbox invoice through the same settlement path as a real payment; answers 200 once it is committed. Settling again answers 200 with the same result (and `Satsub-Replayed: true`).")
            .ProducesProblem(404).ProducesProblem(422);
        admin.MapGet("/stats", StatsAsync)
            .WithSummary("Sales, users, subscriptions, commissions and payouts between from and to")
            .WithDescription("`from` and `to` are ISO 8601 times (default: everything until now); the period includes `from` and excludes `to`.")
            .ProducesProblem(400);
        admin.MapGet("/audit", AuditAsync)
            .WithSummary("The audit log of admin actions, newest first")
            .ProducesProblem(400);
        return api;
    }

    private static async Task<Results<Ok<SettlementView>, ProblemHttpResult>> SettleAsync(
        [FromRoute(Name = "invoice_id")] string invoiceId, SatsubDbContext db, SettlementService settlement, AuditLog audit,
        HttpContext http, CancellationToken ct)
    {
        if (invoiceId.Length > 64 || !Guid.TryParse(invoiceId, out var id))
            return ApiProblems.NotFound("invoice_not_found", "No such invoice.");
        var provider = await db.Invoices.Where(i => i.Id == id).Select(i => i.Provider).SingleOrDefaultAsync(ct);
        if (provider is null) return ApiProblems.NotFound("invoice_not_found", "No such invoice.");
        if (provider != SandboxPaymentProvider.ProviderName)
            return ApiProblems.Problem(422, "not_sandbox_invoice", $"The invoice belongs to provider '{provider}': only sandbox invoices are settled here.");

        var result = await settlement.SettleAsync(id, new PaymentEvidence(SandboxPaymentProvider.ProviderName, $"admin-settle:{id:N}", "admin_settle"), ct);
        await audit.RecordAsync(http, "invoice.settle", result.InvoiceId.ToString("D"), result.Replayed ? "replayed" : null);
        http.Response.Headers["Satsub-Replayed"] = result.Replayed ? "true" : "false";
        return TypedResults.Ok(new SettlementView(result.InvoiceId.ToString("D"), result.SubscriptionId.ToString("D"), "settled",
            result.SettledAt, result.PeriodStart, result.PeriodEnd, result.Sale.Value, result.OwnerShare.Value, result.AffiliateShare.Value,
            result.AffiliateId?.ToString("D")));
    }

    private static async Task<Results<Ok<Stats>, ValidationProblem>> StatsAsync(
        [FromQuery] string? from, [FromQuery] string? to, SatsubDbContext db, TimeProvider clock, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var now = clock.GetUtcNow();
        var start = ParseTime(errors, "from", from) ?? DateTimeOffset.UnixEpoch;
        var end = ParseTime(errors, "to", to) ?? now;
        if (!errors.Any && start > end) errors.Add("from", "must not be after to.");
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());

        var settled = db.Invoices.Where(i => i.Status == InvoiceStatus.Settled && i.SettledAt >= start && i.SettledAt < end);
        var salesCount = await settled.CountAsync(ct);
        var salesSats = await settled.SumAsync(i => (long?)i.AmountSats, ct) ?? 0;
        var accrued = await db.Commissions.Where(c => c.CreatedAt >= start && c.CreatedAt < end).SumAsync(c => (long?)c.AmountSats, ct) ?? 0;
        var newUsers = await db.Users.CountAsync(u => u.CreatedAt >= start && u.CreatedAt < end, ct);
        var active = await db.Subscriptions.CountAsync(s => s.Status == SubscriptionStatus.Active && s.ExpiresAt > now, ct);
        var requested = await db.Payouts.CountAsync(p => p.RequestedAt >= start && p.RequestedAt < end, ct);
        var sent = db.Payouts.Where(p => p.Status == PayoutStatus.Sent && p.UpdatedAt >= start && p.UpdatedAt < end);
        var sentCount = await sent.CountAsync(ct);
        var sentSats = await sent.SumAsync(p => (long?)p.AmountSats, ct) ?? 0;
        var sentFees = await sent.SumAsync(p => (long?)p.FeeSats, ct) ?? 0;

        return TypedResults.Ok(new Stats(start, end,
            new SalesStats(salesCount, salesSats),
            salesSats - accrued,
            newUsers,
            active,
            new CommissionStats(accrued, sentSats),
            new PayoutStats(requested, sentCount, sentSats, sentFees)));
    }

    private static async Task<Results<Ok<Page<AuditItem>>, ValidationProblem>> AuditAsync(
        [FromQuery] string? cursor, [FromQuery] string? limit, SatsubDbContext db, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var (before, take) = Paging.Parse(errors, cursor, limit);
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        var rows = await db.AuditEntries.AsNoTracking().Where(a => before == 0 || a.Id < before)
            .OrderByDescending(a => a.Id).Take(take + 1).ToListAsync(ct);
        var items = rows.Take(take).Select(a => new AuditItem(a.Id.ToString(CultureInfo.InvariantCulture), a.ApiKeyId?.ToString("D"), a.ApiKeyName,
            a.Action, a.Target, a.Details, a.RemoteIp, a.At)).ToList();
        return TypedResults.Ok(new Page<AuditItem>(items, rows.Count > take ? Paging.Cursor(rows[take - 1].Id) : null));
    }

    private static DateTimeOffset? ParseTime(FieldErrors errors, string field, string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (text.Length <= 40 && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            return at;
        errors.Add(field, "must be an ISO 8601 date or time, such as 2026-01-31 or 2026-01-31T12:00:00Z.");
        return null;
    }
}
