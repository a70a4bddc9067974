using Microsoft.EntityFrameworkCore;
using Satsub.Payments;
using Satsub.Subscriptions;
using Satsub.Telegram;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Telegram;

/// <summary>The whole flow through the fake Bot API: referral, purchase, settlement, access, reminders, removal.</summary>
public sealed class BotEndToEndTests
{
    private const long Affiliate = 1001, Buyer = 2002, Stranger = 3003;

    [Theory]
    [InlineData(DbKind.Sqlite)]
    [InlineData(DbKind.Postgres)]
    public async Task A_referred_user_buys_joins_is_reminded_and_removed_at_expiry(DbKind kind)
    {
        await using var h = await BotHarness.StartAsync(kind);
        var fake = h.Fake;

        // The affiliate starts the bot and gets a referral code; the buyer comes through the deep link.
        await h.UpdateAsync(fake.TextMessage(Affiliate, "/start"));
        var affiliate = await h.UserAsync(Affiliate);
        Assert.NotNull(affiliate);
        await h.UpdateAsync(fake.TextMessage(Buyer, "/start " + affiliate.ReferralCode));
        var buyer = await h.UserAsync(Buyer);
        Assert.Equal(affiliate.Id, buyer!.ReferrerId);
        await h.DrainAsync();
        Assert.Contains(h.SentTo(Buyer), c => c.Buttons().Any(b => b.Data == "plans"));

        // Plans → plan → Lightning: the terms come first, then the invoice.
        await h.UpdateAsync(fake.Callback(Buyer, "plans", messageId: 77));
        await h.UpdateAsync(fake.Callback(Buyer, "plan:basic", messageId: 77));
        await h.UpdateAsync(fake.Callback(Buyer, "buy:basic:ln", messageId: 77));
        await h.DrainAsync();
        var edits = fake.CallsOf("editMessageText").Where(c => c.Long("chat_id") == Buyer).ToList();
        Assert.All(edits, e => Assert.Equal(77, e.Long("message_id")));
        Assert.Contains(edits, e => e.Buttons().Any(b => b.Data == "tacc:buy:basic:ln"));
        Assert.Empty(await h.App.DbAsync(db => db.Invoices.Where(i => i.UserId == buyer.Id).ToListAsync()));

        await h.UpdateAsync(fake.Callback(Buyer, "tacc:buy:basic:ln", messageId: 77));
        await h.DrainAsync();
        var profile = await h.App.DbAsync(db => db.TelegramUsers.SingleAsync(u => u.UserId == buyer.Id));
        Assert.NotNull(profile.TermsAcceptedAt);
        Assert.StartsWith("sha256:", profile.TermsVersion);
        var invoice = await h.App.DbAsync(db => db.Invoices.SingleAsync(i => i.UserId == buyer.Id));
        var photo = Assert.Single(fake.CallsOf("sendPhoto"));
        Assert.Equal(Buyer, photo.Long("chat_id"));
        Assert.True(photo.Params["photo"].IsFile);
        Assert.Contains("10000", photo.Str("caption"));
        Assert.Equal("HTML", photo.Str("parse_mode"));
        Assert.Contains(photo.Buttons(), b => b.Data == $"chk:{invoice.Id:N}");
        Assert.Contains(photo.Buttons(), b => b.Data == $"cxl:{invoice.Id:N}");

        // "Check payment" before paying: a toast, nothing edited.
        var photoMessageId = await h.App.DbAsync(db => db.TelegramSends.Where(s => s.DedupeKey == InvoiceMessages.Key(invoice.Id)).Select(s => s.MessageId).SingleAsync());
        await h.UpdateAsync(fake.Callback(Buyer, $"chk:{invoice.Id:N}", photoMessageId!.Value, photo: true));
        Assert.Contains(fake.CallsOf("answerCallbackQuery"), c => c.Text().Contains("No payment yet"));

        // The sandbox settles: the invoice message turns "Paid", the buyer gets access, the affiliate the amount.
        await h.App.SettleAsync(invoice.Id);
        await h.DrainAsync();
        var paid = Assert.Single(fake.CallsOf("editMessageCaption"));
        Assert.Equal(photoMessageId, paid.Long("message_id"));
        Assert.Contains("Paid", paid.Str("caption"));
        var link = Assert.Single(fake.CallsOf("createChatInviteLink"));
        Assert.Equal(BotHarness.ChatId, link.Long("chat_id"));
        Assert.True(link.Bool("creates_join_request"));
        Assert.Contains(h.SentTo(Buyer), c => c.Buttons().Any(b => b.Url?.StartsWith("https://t.me/+fake", StringComparison.Ordinal) == true));
        var earned = Assert.Single(h.SentTo(Affiliate), c => c.Text().Contains("You earned"));
        Assert.Contains("5000 sats", earned.Str("text"));
        Assert.DoesNotContain("2002", earned.Str("text"));

        // The join request of the subscriber is approved; a stranger with the same link is declined.
        await h.UpdateAsync(fake.JoinRequest(Buyer, BotHarness.ChatId));
        await h.UpdateAsync(fake.JoinRequest(Stranger, BotHarness.ChatId));
        await h.DrainAsync();
        var approved = Assert.Single(fake.CallsOf("approveChatJoinRequest"));
        Assert.Equal((BotHarness.ChatId, Buyer), (approved.Long("chat_id"), approved.Long("user_id")));
        var declined = Assert.Single(fake.CallsOf("declineChatJoinRequest"));
        Assert.Equal(Stranger, declined.Long("user_id"));

        // Reminders 3 days and 1 day before expiry, each once however often the job runs.
        var subscription = await h.App.DbAsync(db => db.Subscriptions.AsNoTracking().SingleAsync(s => s.UserId == buyer.Id));
        var expires = subscription.ExpiresAt!.Value;
        h.App.Clock.Advance(expires.AddDays(-3).AddMinutes(1) - h.App.Clock.GetUtcNow());
        Assert.Equal(1, await h.RunExpiryAsync());
        Assert.Equal(0, await h.RunExpiryAsync());
        await h.DrainAsync();
        h.App.Clock.Advance(expires.AddDays(-1).AddMinutes(1) - h.App.Clock.GetUtcNow());
        Assert.Equal(1, await h.RunExpiryAsync());
        await h.DrainAsync();
        var reminders = h.SentTo(Buyer).Where(c => c.Text().Contains("ends on")).ToList();
        Assert.Equal(2, reminders.Count);
        Assert.All(reminders, r => Assert.Contains(r.Buttons(), b => b.Data == "plan:basic"));

        // Expiry: the event once, and the removal after the grace period (ban, then unban so they can come back).
        h.App.Clock.Advance(expires.AddMinutes(1) - h.App.Clock.GetUtcNow());
        Assert.Equal(1, await h.RunExpiryAsync());
        Assert.Equal(0, await h.RunExpiryAsync());
        await h.DrainAsync();
        Assert.Single(await h.App.DbAsync(db => db.OutboxMessages.Where(m => m.Type == "subscription.expired").ToListAsync()));
        Assert.Empty(fake.CallsOf("banChatMember"));
        h.App.Clock.Advance(expires.AddHours(24).AddMinutes(1) - h.App.Clock.GetUtcNow());
        Assert.Equal(1, await h.RunExpiryAsync());
        await h.DrainAsync();
        var ban = Assert.Single(fake.CallsOf("banChatMember"));
        var unban = Assert.Single(fake.CallsOf("unbanChatMember"));
        Assert.Equal((BotHarness.ChatId, Buyer), (ban.Long("chat_id"), ban.Long("user_id")));
        Assert.True(unban.Bool("only_if_banned"));
        Assert.True(fake.Calls.ToList().IndexOf(ban) < fake.Calls.ToList().IndexOf(unban));
        Assert.Contains(h.SentTo(Buyer), c => c.Text().Contains("To come back"));

        // A leaked link is useless after expiry too.
        await h.UpdateAsync(fake.JoinRequest(Buyer, BotHarness.ChatId));
        await h.DrainAsync();
        Assert.Equal(2, fake.CallsOf("declineChatJoinRequest").Count);

        h.AssertConformsToReference();
    }

    [Fact]
    public async Task Renewing_during_the_grace_period_keeps_the_member()
    {
        await using var h = await BotHarness.StartAsync(DbKind.Sqlite, new Dictionary<string, string?> { ["Legal:Terms:en"] = null, ["Legal:Terms:ru"] = null });
        await h.UpdateAsync(h.Fake.TextMessage(Buyer, "/start"));
        var buyer = await h.UserAsync(Buyer);
        await h.App.SettleAsync((await h.App.BuyAsync(buyer!.Id)).Id);
        var expires = (await h.App.DbAsync(db => db.Subscriptions.SingleAsync(s => s.UserId == buyer.Id))).ExpiresAt!.Value;
        h.App.Clock.Advance(expires.AddHours(1) - h.App.Clock.GetUtcNow());
        await h.RunExpiryAsync();
        Assert.Equal(SubscriptionStatus.Expired, (await h.App.DbAsync(db => db.Subscriptions.SingleAsync(s => s.UserId == buyer.Id))).Status);
        await h.App.SettleAsync((await h.App.BuyAsync(buyer.Id)).Id);
        h.App.Clock.Advance(TimeSpan.FromHours(30));
        await h.RunExpiryAsync();
        await h.DrainAsync();
        Assert.Empty(h.Fake.CallsOf("banChatMember"));
        Assert.Equal(2, h.Fake.CallsOf("createChatInviteLink").Count);
        h.AssertConformsToReference();
    }
}
