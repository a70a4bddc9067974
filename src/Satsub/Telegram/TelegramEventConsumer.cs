using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Outbox;
using Satsub.Plans;
using Satsub.Subscriptions;

namespace Satsub.Telegram;

/// <summary>
/// Turns Satsub's events into Telegram sends for the people concerned (in the dispatcher's transaction, idempotent by
/// dedupe key). Payment confirmations and access links are always sent; reminders and earnings respect the mutes.
/// The affiliate learns the amount only — never who bought.
/// </summary>
public sealed class TelegramEventConsumer(TimeProvider clock, IOptions<PlansOptions> plansOptions) : IOutboxConsumer
{
    public static readonly string[] Types =
    [
        "payment.settled", "subscription.activated", "subscription.renewed", "subscription.expiring", "subscription.expired",
        SubscriptionExpiryJob.RemovalEvent, "commission.earned", "payout.sent", "payout.failed", "payout.rejected",
    ];

    public bool Handles(string type) => Types.Contains(type);

    private sealed record Recipient(long ChatId, bool MuteEarnings, bool MuteReminders, string? Language);

    public Task ConsumeAsync(OutboxMessage message, SatsubDbContext db, CancellationToken ct) => ConsumeAllAsync([message], db, ct);

    /// <summary>The recipients of the whole chunk are read in one query; most buyers of a busy shop are not bot users.</summary>
    public async Task ConsumeAllAsync(IReadOnlyList<OutboxMessage> messages, SatsubDbContext db, CancellationToken ct)
    {
        var users = messages.Select(m => (Message: m, UserId: UserOf(m))).ToList();
        var ids = users.Where(x => x.UserId is not null).Select(x => x.UserId!.Value).Distinct().ToList();
        if (ids.Count == 0) return;
        var recipients = await (from t in db.TelegramUsers.AsNoTracking()
                                join u in db.Users.AsNoTracking() on t.UserId equals u.Id
                                where ids.Contains(t.UserId) && u.ErasedAt == null
                                select new { t.UserId, t.ChatId, t.MuteEarnings, t.MuteReminders, u.Language }).ToListAsync(ct);
        var byUser = recipients.ToDictionary(r => r.UserId, r => new Recipient(r.ChatId, r.MuteEarnings, r.MuteReminders, r.Language));
        foreach (var (message, userId) in users)
        {
            // Not a bot user: nothing to say in Telegram.
            if (userId is { } id && byUser.TryGetValue(id, out var who)) await ConsumeAsync(message, who, db, ct);
        }
    }

    private static Guid? UserOf(OutboxMessage message)
    {
        using var doc = JsonDocument.Parse(message.Payload);
        var userKey = message.Type == "commission.earned" ? "affiliate_id" : "user_id";
        return Guid.TryParse(Str(doc.RootElement, userKey), out var userId) ? userId : null;
    }

    private async Task ConsumeAsync(OutboxMessage message, Recipient who, SatsubDbContext db, CancellationToken ct)
    {
        using var doc = JsonDocument.Parse(message.Payload);
        var p = doc.RootElement;
        var lang = BotTexts.Normalize(who.Language);
        var now = clock.GetUtcNow();
        var key = "ev:" + message.DedupeKey;
        string T(string k, params object?[] args) => BotTexts.Get(lang, k, args);

        switch (message.Type)
        {
            case "payment.settled" when Guid.TryParse(Str(p, "invoice_id"), out var invoiceId):
                await InvoiceMessages.QueuePaidAsync(db, who.ChatId, lang, invoiceId, Long(p, "amount_sats"), now, ct);
                break;
            case "subscription.activated" or "subscription.renewed":
            {
                var planCode = Str(p, "plan") ?? "";
                var plan = await db.Plans.AsNoTracking().SingleOrDefaultAsync(x => x.Code == planCode, ct);
                var expires = Time(p, "expires_at");
                var text = T(message.Type == "subscription.activated" ? "Access.Activated" : "Access.Renewed",
                    BotTexts.Html(plan?.Name ?? planCode), expires is { } e ? BotTexts.Time(e) : "-");
                var chats = plan?.Chats.Where(c => !string.IsNullOrWhiteSpace(c)).ToList() ?? [];
                if (chats.Count == 0)
                    await SendQueue.MessageAsync(db, key, who.ChatId, text, [[new Button(T("Button.Menu"), "menu")]], now, ct);
                else
                    await SendQueue.EnqueueAsync(db, key, who.ChatId, SendKinds.Access, new SendPayload
                    {
                        Text = text, Chats = chats, LinkLabel = T("Access.JoinButton"), UserId = null,
                    }, now, ct);
                break;
            }
            case "commission.earned" when !who.MuteEarnings:
                await SendQueue.MessageAsync(db, key, who.ChatId, T("Notify.Earned", Long(p, "amount_sats")), [[new Button(T("Menu.Earn"), "earn")]], now, ct);
                break;
            case "payout.sent":
                await SendQueue.MessageAsync(db, key, who.ChatId, T("Notify.PayoutSent", Long(p, "sent_sats") is > 0 and var s ? s : Long(p, "amount_sats")), null, now, ct);
                break;
            case "payout.failed" or "payout.rejected":
                await SendQueue.MessageAsync(db, key, who.ChatId, T(message.Type == "payout.failed" ? "Notify.PayoutFailed" : "Notify.PayoutRejected", Long(p, "amount_sats")), null, now, ct);
                break;
            case "subscription.expiring" when !who.MuteReminders:
            {
                var planCode = Str(p, "plan") ?? "";
                await SendQueue.MessageAsync(db, key, who.ChatId,
                    T("Notify.Expiring", BotTexts.Html(planCode), Time(p, "expires_at") is { } e ? BotTexts.Time(e) : "-"),
                    [[new Button(T("Button.Renew", planCode), $"plan:{planCode}")]], now, ct);
                break;
            }
            case "subscription.expired":
            {
                var planCode = Str(p, "plan") ?? "";
                await SendQueue.MessageAsync(db, key, who.ChatId, T("Notify.Expired", BotTexts.Html(planCode)),
                    [[new Button(T("Button.Renew", planCode), $"plan:{planCode}")]], now, ct);
                break;
            }
            case SubscriptionExpiryJob.RemovalEvent when Guid.TryParse(Str(p, "subscription_id"), out var subscriptionId):
                await QueueRemovalAsync(db, who.ChatId, lang, subscriptionId, key, now, ct);
                break;
        }
    }

    private async Task QueueRemovalAsync(SatsubDbContext db, long chatId, string lang, Guid subscriptionId, string key, DateTimeOffset now, CancellationToken ct)
    {
        var subscription = await db.Subscriptions.AsNoTracking().SingleOrDefaultAsync(s => s.Id == subscriptionId, ct);
        // Renewed during the grace period: nothing to remove.
        if (subscription is null || subscription.IsActiveAt(now)) return;
        var plan = await db.Plans.AsNoTracking().SingleOrDefaultAsync(x => x.Code == subscription.PlanCode, ct);
        if (plan is null) return;
        if (plansOptions.Value.TryGetValue(plan.Code, out var definition) && !definition.RemoveAtExpiry) return;
        // Chats still covered by another active subscription of the same user are kept.
        var others = await db.Subscriptions.AsNoTracking()
            .Where(s => s.UserId == subscription.UserId && s.Id != subscription.Id && s.Status == SubscriptionStatus.Active).ToListAsync(ct);
        var otherCodes = others.Where(s => s.IsActiveAt(now)).Select(s => s.PlanCode).ToList();
        var kept = (await db.Plans.AsNoTracking().Where(x => otherCodes.Contains(x.Code)).ToListAsync(ct)).SelectMany(x => x.Chats).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var chats = plan.Chats.Where(c => !string.IsNullOrWhiteSpace(c) && !kept.Contains(c)).ToList();
        if (chats.Count == 0) return;
        var user = await db.Users.AsNoTracking().SingleAsync(u => u.Id == subscription.UserId, ct);
        if (!long.TryParse(user.ExternalId, out var telegramUserId)) return;
        foreach (var chat in chats)
        {
            // The group chat is the rate bucket for the ban/unban pair; its id is resolved from the configured name at send time.
            await SendQueue.EnqueueAsync(db, $"{key}:{chat}", ChatIdOrZero(chat), SendKinds.Remove, new SendPayload { Chats = [chat], UserId = telegramUserId }, now, ct);
        }
        await SendQueue.MessageAsync(db, key, chatId, BotTexts.Get(lang, "Notify.Removed", BotTexts.Html(plan.Name)),
            [[new Button(BotTexts.Get(lang, "Button.Renew", plan.Code), $"plan:{plan.Code}")]], now, ct);
    }

    private static long ChatIdOrZero(string chat) => long.TryParse(chat, out var id) ? id : 0;

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long Long(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : 0;

    private static DateTimeOffset? Time(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.TryGetDateTimeOffset(out var t) ? t : null;
}
