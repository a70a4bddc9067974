using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Affiliates;
using Satsub.Affiliates.Rating;
using Satsub.Common;
using Satsub.Data;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Payouts;
using Satsub.Subscriptions;
using Satsub.Users;
using Telegram.Bot.Types;
using Telegram.Bot.Types.Enums;
using TgUser = Telegram.Bot.Types.User;
using User = Satsub.Users.User;

namespace Satsub.Telegram;

/// <summary>What the update processor does after the handler's transaction commits.</summary>
public sealed record HandlerOutcome(string? CallbackQueryId, string? CallbackText, bool Alert = false)
{
    public static readonly HandlerOutcome None = new(null, null);
}

/// <summary>
/// The bot's conversation: commands, menu buttons and join requests. Everything it says is queued as sends in the
/// update's transaction (so an update handled twice cannot say it twice); nothing from Telegram is trusted —
/// callback data is parsed strictly and every invoice or payout it names is checked to belong to the user.
/// </summary>
public sealed partial class BotHandlers(
    SatsubDbContext db,
    UserRegistration registration,
    PurchaseService purchases,
    PayoutService payouts,
    AffiliateProfile affiliates,
    Leaderboard leaderboard,
    Terms terms,
    Transparency.TransparencySummary transparency,
    IOptions<TelegramOptions> options,
    IConfiguration configuration,
    TimeProvider clock,
    ILogger<BotHandlers> logger)
{
    public const int MaxOpenInvoices = 5;

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    public static partial Regex PayloadPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,31}$")]
    private static partial Regex PlanCodePattern();

    private long updateId;
    private int sequence;
    private DateTimeOffset now;

    private sealed record Ctx(User User, TelegramUser Profile, string Lang, long ChatId, long? EditMessageId, bool EditIsPhoto);

    public async Task<HandlerOutcome> HandleAsync(Update update, CancellationToken ct)
    {
        updateId = update.Id;
        sequence = 0;
        now = clock.GetUtcNow();
        if (update.Message is { } message) return await OnMessageAsync(message, ct);
        if (update.CallbackQuery is { } query) return await OnCallbackAsync(query, ct);
        if (update.ChatJoinRequest is { } join) return await OnJoinRequestAsync(join, ct);
        if (update.MyChatMember is { Chat.Type: ChatType.Private } member) return await OnMyChatMemberAsync(member, ct);
        // Edited messages, channel posts, polls…: nothing to answer.
        return HandlerOutcome.None;
    }

    /// <summary>The short apology for a user whose update failed (queued by the processor in its own transaction).</summary>
    public static string Apology(string? languageCode)
    {
        try
        {
            return BotTexts.Get(BotTexts.Normalize(languageCode), "Error.Apology");
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.Resources.MissingManifestResourceException)
        {
            // The apology must not fail in turn: a poison update would otherwise be retried forever.
            return "Sorry, something went wrong.";
        }
    }

    private async Task<HandlerOutcome> OnMessageAsync(Message message, CancellationToken ct)
    {
        if (message.Chat.Type != ChatType.Private || message.From is not { IsBot: false } from) return HandlerOutcome.None;
        var text = message.Text?.Trim() ?? "";
        var (command, argument) = SplitCommand(text);
        string? payload = command == "/start" ? argument : null;
        var (ctx, created, referralNote) = await EnsureUserAsync(from, message.Chat.Id, payload, ct);
        if (ctx is null) return HandlerOutcome.None;

        switch (command)
        {
            case "/start":
                if (created) await SayAsync(ctx, referralNote ?? T(ctx, "Start.Welcome"), null, ct);
                await ShowMenuAsync(ctx, ct);
                break;
            case "/menu":
                await ShowMenuAsync(ctx, ct);
                break;
            case "/help":
                await ShowAsync(ctx, T(ctx, "Help.Text"), Back(ctx), ct);
                break;
            case "/terms":
                await ShowTermsAsync(ctx, null, ct);
                break;
            case "/payout":
                await SetPayoutAddressAsync(ctx, argument, ct);
                break;
            case "/stats" when IsAdmin(from.Id):
                await ShowStatsAsync(ctx, ct);
                break;
            case "/payouts" when IsAdmin(from.Id):
                await ShowPendingPayoutsAsync(ctx, ct);
                break;
            case "/broadcast" when IsAdmin(from.Id):
                await PreviewBroadcastAsync(ctx, argument, ct);
                break;
            default:
                // Stickers, photos, free text of any size: a short pointer to the menu, never an echo.
                await SayAsync(ctx, T(ctx, "Unknown.Text"), [[new Button(T(ctx, "Button.Menu"), "menu")]], ct);
                break;
        }
        return HandlerOutcome.None;
    }

    private static (string? Command, string? Argument) SplitCommand(string text)
    {
        if (!text.StartsWith('/') || text.Length > 4096) return (null, null);
        var space = text.IndexOfAny([' ', '\n', '\t']);
        var command = space < 0 ? text : text[..space];
        var at = command.IndexOf('@', StringComparison.Ordinal);
        if (at > 0) command = command[..at];
        var argument = space < 0 ? null : text[(space + 1)..].Trim();
        return (command.ToLowerInvariant(), string.IsNullOrEmpty(argument) ? null : argument);
    }

    private async Task<(Ctx? Ctx, bool Created, string? Note)> EnsureUserAsync(TgUser from, long chatId, string? startPayload, CancellationToken ct)
    {
        var externalId = from.Id.ToString(CultureInfo.InvariantCulture);
        var user = await db.Users.SingleOrDefaultAsync(u => u.Platform == "telegram" && u.ExternalId == externalId, ct);
        var created = false;
        string? note = null;
        if (user is null)
        {
            string? referral = null;
            if (startPayload is not null)
            {
                // Deep-link payload: a referral code; anything else is ignored (and said so).
                var referrer = PayloadPattern().IsMatch(startPayload) ? await registration.ResolveReferrerAsync(startPayload, ct) : null;
                if (referrer is not null && referrer.ErasedAt is null) referral = referrer.Id.ToString("D");
                else note = "unknown"; // worded below, once the language is known
            }
            (user, created) = await registration.RegisterAsync(new RegistrationRequest("telegram", externalId, Username(from), referral), ct);
            if (created)
            {
                var tracked = await db.Users.SingleAsync(u => u.Id == user.Id, ct);
                tracked.Language ??= BotTexts.Normalize(from.LanguageCode);
                await db.SaveChangesAsync(ct);
                user = tracked;
            }
        }
        if (user.ErasedAt is not null) return (null, false, null);

        var profile = await db.TelegramUsers.SingleOrDefaultAsync(p => p.UserId == user.Id, ct);
        if (profile is null)
        {
            profile = new TelegramUser { UserId = user.Id, ChatId = chatId, CreatedAt = now };
            db.TelegramUsers.Add(profile);
        }
        // Writing to the bot again undoes a block.
        profile.UnreachableAt = null;
        profile.ChatId = chatId;
        if (user.Language is null)
        {
            user.Language = BotTexts.Normalize(from.LanguageCode);
        }
        await db.SaveChangesAsync(ct);
        var lang = BotTexts.Normalize(user.Language);
        if (note == "unknown") note = BotTexts.Get(lang, "Start.UnknownReferral");
        else if (created && user.ReferrerId is not null) note = BotTexts.Get(lang, "Start.Referred");
        return (new Ctx(user, profile, lang, chatId, null, false), created, note);
    }

    private static string? Username(TgUser from) => from.Username is { Length: > 0 and <= 64 } u ? u : null;

    private bool IsAdmin(long telegramId) => options.Value.AdminIds.Contains(telegramId);

    private static string T(Ctx ctx, string key, params object?[] args) => BotTexts.Get(ctx.Lang, key, args);

    // ---------- sending ----------

    private string NextKey() => $"upd:{updateId}:{sequence++}";

    private Task SayAsync(Ctx ctx, string text, List<List<Button>>? keyboard, CancellationToken ct, bool html = true) =>
        SendQueue.MessageAsync(db, NextKey(), ctx.ChatId, text, keyboard, now, ct, html);

    /// <summary>A screen of the menu: the pressed message is edited in place; otherwise a new message.</summary>
    private Task ShowAsync(Ctx ctx, string text, List<List<Button>>? keyboard, CancellationToken ct)
    {
        if (ctx.EditMessageId is { } id && !ctx.EditIsPhoto)
            return SendQueue.EnqueueAsync(db, NextKey(), ctx.ChatId, SendKinds.Edit, new SendPayload { Text = text, Keyboard = keyboard, MessageId = id }, now, ct);
        return SayAsync(ctx, text, keyboard, ct);
    }

    /// <summary>The same rule and totals as the public page (<see cref="Transparency.TransparencySummary"/>), with a link to it.</summary>
    private async Task ShowTransparencyAsync(Ctx ctx, CancellationToken ct)
    {
        var rules = transparency.Rules();
        var totals = await transparency.TotalsAsync(ct);
        var text = T(ctx, "Transparency.Text", rules.AffiliateBaseBps / 100m) + "\n\n" + T(ctx, "Transparency.Totals",
            totals.SalesCount, totals.SalesSats, totals.OwnerShareSats, totals.CommissionsAccruedSats, totals.CommissionsPaidSats,
            totals.PayoutsCount, rules.HoldDays);
        var rows = Back(ctx);
        // Telegram accepts only absolute http(s) links on URL buttons: shown when Transparency:PublicUrl is set.
        if (transparency.PageUrl.StartsWith("https://", StringComparison.Ordinal))
            rows.Insert(0, [new Button(T(ctx, "Button.TransparencyPage"), Url: transparency.PageUrl)]);
        await ShowAsync(ctx, text, rows, ct);
    }

    private List<List<Button>> Back(Ctx ctx) => [[new Button(T(ctx, "Button.Back"), "menu")]];

    // ---------- callbacks ----------

    private async Task<HandlerOutcome> OnCallbackAsync(CallbackQuery query, CancellationToken ct)
    {
        if (query.From.IsBot) return HandlerOutcome.None;
        var chatId = query.Message?.Chat.Id ?? query.From.Id;
        if (query.Message is { } m && m.Chat.Type != ChatType.Private) return new HandlerOutcome(query.Id, null);
        var (ctx0, _, _) = await EnsureUserAsync(query.From, chatId, null, ct);
        if (ctx0 is null) return new HandlerOutcome(query.Id, null);
        var ctx = ctx0 with { EditMessageId = query.Message?.MessageId, EditIsPhoto = query.Message?.Photo is not null };
        var data = query.Data ?? "";
        if (data.Length > 64) return Stale(query, ctx);
        var parts = data.Split(':');
        switch (parts)
        {
            case ["menu"]: await ShowMenuAsync(ctx, ct); break;
            case ["plans"]: await ShowPlansAsync(ctx, ct); break;
            case ["plan", var code] when PlanCodePattern().IsMatch(code): return await ShowPlanAsync(ctx, query, code, ct);
            case ["buy", var code, "ln" or "oc"] when PlanCodePattern().IsMatch(code): return await BuyAsync(ctx, query, code, parts[2], ct);
            case ["tacc", "buy", var code, "ln" or "oc"] when PlanCodePattern().IsMatch(code):
                await AcceptTermsAsync(ctx, ct);
                return await BuyAsync(ctx, query, code, parts[3], ct);
            case ["tacc", "wd"]:
                await AcceptTermsAsync(ctx, ct);
                return await WithdrawAsync(ctx, query, ct);
            case ["tacc"]:
                await AcceptTermsAsync(ctx, ct);
                return new HandlerOutcome(query.Id, T(ctx, "Terms.Accepted"));
            case ["chk", var id] when Guid.TryParseExact(id, "N", out var invoiceId): return await CheckInvoiceAsync(ctx, query, invoiceId, ct);
            case ["cxl", var id] when Guid.TryParseExact(id, "N", out var invoiceId): return await CancelInvoiceAsync(ctx, query, invoiceId, ct);
            case ["sub"]: await ShowSubscriptionsAsync(ctx, ct); break;
            case ["earn"]: await ShowAffiliateAsync(ctx, ct); break;
            case ["wd"]: return await WithdrawAsync(ctx, query, ct);
            case ["lb"]: await ShowLeaderboardAsync(ctx, ct); break;
            case ["tr"]: await ShowTransparencyAsync(ctx, ct); break;
            case ["terms"]: await ShowTermsAsync(ctx, null, ct); break;
            case ["help"]: await ShowAsync(ctx, T(ctx, "Help.Text"), Back(ctx), ct); break;
            case ["set"]: await ShowSettingsAsync(ctx, ct); break;
            case ["lang", "en" or "ru"]:
                ctx.User.Language = parts[1];
                await db.SaveChangesAsync(ct);
                await ShowSettingsAsync(ctx with { Lang = parts[1] }, ct);
                break;
            case ["mute", "r" or "e"]:
                if (parts[1] == "r") ctx.Profile.MuteReminders = !ctx.Profile.MuteReminders;
                else ctx.Profile.MuteEarnings = !ctx.Profile.MuteEarnings;
                await db.SaveChangesAsync(ct);
                await ShowSettingsAsync(ctx, ct);
                break;
            case ["bc", "ok" or "no"] when IsAdmin(query.From.Id): return await ConfirmBroadcastAsync(ctx, query, parts[1] == "ok", ct);
            case ["po", "a" or "r", var id] when IsAdmin(query.From.Id) && Guid.TryParseExact(id, "N", out var payoutId):
                return await DecidePayoutAsync(ctx, query, payoutId, parts[1] == "a", ct);
            default: return Stale(query, ctx);
        }
        return new HandlerOutcome(query.Id, null);
    }

    private static HandlerOutcome Stale(CallbackQuery query, Ctx ctx) => new(query.Id, T(ctx, "Callback.Stale"), Alert: true);

    // ---------- menu ----------

    private Task ShowMenuAsync(Ctx ctx, CancellationToken ct) => ShowAsync(ctx, T(ctx, "Menu.Text"),
    [
        [new Button(T(ctx, "Menu.Plans"), "plans"), new Button(T(ctx, "Menu.Subscription"), "sub")],
        [new Button(T(ctx, "Menu.Earn"), "earn"), new Button(T(ctx, "Menu.Leaderboard"), "lb")],
        [new Button(T(ctx, "Menu.Transparency"), "tr"), new Button(T(ctx, "Menu.Terms"), "terms")],
        [new Button(T(ctx, "Menu.Settings"), "set"), new Button(T(ctx, "Menu.Help"), "help")],
    ], ct);

    private async Task ShowPlansAsync(Ctx ctx, CancellationToken ct)
    {
        var plans = await db.Plans.AsNoTracking().Where(p => p.Active).OrderBy(p => p.Code).ToListAsync(ct);
        var rows = plans.Select(p => new List<Button> { new(PlanLabel(ctx, p), $"plan:{p.Code}") }).ToList();
        rows.Add([new Button(T(ctx, "Button.Back"), "menu")]);
        await ShowAsync(ctx, plans.Count == 0 ? T(ctx, "Plans.None") : T(ctx, "Plans.Text"), rows, ct);
    }

    private static string PlanLabel(Ctx ctx, Plans.Plan p) => p.PriceSats is { } sats
        ? T(ctx, "Plans.LabelSats", p.Name, sats, p.DurationDays)
        : T(ctx, "Plans.LabelFiat", p.Name, p.FiatAmount?.ToString("0.00", CultureInfo.InvariantCulture), p.FiatCurrency, p.DurationDays);

    private async Task<HandlerOutcome> ShowPlanAsync(Ctx ctx, CallbackQuery query, string code, CancellationToken ct)
    {
        var plan = await db.Plans.AsNoTracking().SingleOrDefaultAsync(p => p.Code == code && p.Active, ct);
        if (plan is null) return Stale(query, ctx);
        var active = await db.Subscriptions.AsNoTracking()
            .Where(s => s.UserId == ctx.User.Id && s.PlanCode == code && s.Status == SubscriptionStatus.Active && s.ExpiresAt > now)
            .Select(s => s.ExpiresAt).FirstOrDefaultAsync(ct);
        var text = T(ctx, "Plan.Text", BotTexts.Html(plan.Name), BotTexts.Html(plan.Description), BotTexts.Html(PlanLabel(ctx, plan)))
            + (active is { } until ? "\n\n" + T(ctx, "Plan.RenewNote", BotTexts.Time(until)) : "");
        await ShowAsync(ctx, text,
        [
            [new Button(T(ctx, "Button.Lightning"), $"buy:{code}:ln"), new Button(T(ctx, "Button.Onchain"), $"buy:{code}:oc")],
            [new Button(T(ctx, "Button.Back"), "plans")],
        ], ct);
        return new HandlerOutcome(query.Id, null);
    }

    // ---------- buying ----------

    private async Task<HandlerOutcome> BuyAsync(Ctx ctx, CallbackQuery query, string code, string method, CancellationToken ct)
    {
        if (!terms.AcceptedBy(ctx.Profile))
        {
            await ShowTermsAsync(ctx, $"tacc:buy:{code}:{method}", ct);
            return new HandlerOutcome(query.Id, null);
        }
        var open = await db.Invoices.CountAsync(i => i.UserId == ctx.User.Id && i.Status == InvoiceStatus.New && i.ExpiresAt > now, ct);
        if (open >= MaxOpenInvoices) return new HandlerOutcome(query.Id, T(ctx, "Buy.TooManyOpen"), Alert: true);
        Invoice invoice;
        try
        {
            (_, invoice) = await purchases.StartAsync(ctx.User.Id, code, method == "ln" ? PaymentMethod.Lightning : PaymentMethod.Onchain, ct);
        }
        catch (DomainException ex) when (ex.Code == "unknown_plan")
        {
            return Stale(query, ctx);
        }
        catch (DomainException ex)
        {
            logger.LogWarning("The bot could not create an invoice: {Code}", ex.Code);
            return new HandlerOutcome(query.Id, T(ctx, "Buy.Unavailable"), Alert: true);
        }
        var plan = await db.Plans.AsNoTracking().SingleAsync(p => p.Code == code, ct);
        await InvoiceMessages.QueueInvoiceAsync(db, ctx.ChatId, ctx.Lang, invoice, plan.Name, configuration, now, ct);
        return new HandlerOutcome(query.Id, T(ctx, "Buy.Created"));
    }

    private async Task<Invoice?> OwnInvoiceAsync(Ctx ctx, Guid invoiceId, CancellationToken ct) =>
        await db.Invoices.AsNoTracking().SingleOrDefaultAsync(i => i.Id == invoiceId && i.UserId == ctx.User.Id, ct);

    private async Task<HandlerOutcome> CheckInvoiceAsync(Ctx ctx, CallbackQuery query, Guid invoiceId, CancellationToken ct)
    {
        // Another user's (or a made-up) invoice id gets the same answer as a stale button: nothing leaks.
        var invoice = await OwnInvoiceAsync(ctx, invoiceId, ct);
        if (invoice is null) return Stale(query, ctx);
        switch (invoice.Status)
        {
            case InvoiceStatus.Settled:
                return new HandlerOutcome(query.Id, T(ctx, "Invoice.PaidToast"));
            case InvoiceStatus.Processing:
                return new HandlerOutcome(query.Id, T(ctx, "Invoice.Processing"));
            case InvoiceStatus.Expired or InvoiceStatus.Invalid:
            case InvoiceStatus.New when invoice.ExpiresAt <= now:
                await InvoiceMessages.QueueExpiredAsync(db, ctx.ChatId, ctx.Lang, invoice, ctx.EditMessageId, NextKey(), now, ct);
                return new HandlerOutcome(query.Id, T(ctx, "Invoice.ExpiredToast"));
            default:
                return new HandlerOutcome(query.Id, T(ctx, "Invoice.NotPaid"));
        }
    }

    private async Task<HandlerOutcome> CancelInvoiceAsync(Ctx ctx, CallbackQuery query, Guid invoiceId, CancellationToken ct)
    {
        var invoice = await OwnInvoiceAsync(ctx, invoiceId, ct);
        if (invoice is null) return Stale(query, ctx);
        if (invoice.Status == InvoiceStatus.Settled) return new HandlerOutcome(query.Id, T(ctx, "Invoice.PaidToast"));
        if (ctx.EditMessageId is { } id)
        {
            await SendQueue.EnqueueAsync(db, NextKey(), ctx.ChatId, SendKinds.EditCaption, new SendPayload
            {
                Text = T(ctx, "Invoice.Canceled"),
                MessageId = id,
                Keyboard = [[new Button(T(ctx, "Button.Menu"), "menu")]],
            }, now, ct);
        }
        return new HandlerOutcome(query.Id, T(ctx, "Invoice.CanceledToast"));
    }

    // ---------- subscriptions ----------

    private async Task ShowSubscriptionsAsync(Ctx ctx, CancellationToken ct)
    {
        var subs = await db.Subscriptions.AsNoTracking()
            .Where(s => s.UserId == ctx.User.Id && s.Status == SubscriptionStatus.Active)
            .OrderBy(s => s.PlanCode).ToListAsync(ct);
        subs = subs.Where(s => s.ExpiresAt > now).ToList();
        if (subs.Count == 0)
        {
            await ShowAsync(ctx, T(ctx, "Subscription.None"), [[new Button(T(ctx, "Menu.Plans"), "plans")], [new Button(T(ctx, "Button.Back"), "menu")]], ct);
            return;
        }
        var lines = subs.Select(s => T(ctx, "Subscription.Line", BotTexts.Html(s.PlanCode), BotTexts.Time(s.ExpiresAt!.Value)));
        var rows = subs.Select(s => new List<Button> { new(T(ctx, "Button.Renew", s.PlanCode), $"plan:{s.PlanCode}") }).ToList();
        rows.Add([new Button(T(ctx, "Button.Back"), "menu")]);
        await ShowAsync(ctx, T(ctx, "Subscription.Text") + "\n" + string.Join("\n", lines), rows, ct);
    }

    // ---------- affiliate ----------

    private string ReferralLink(User user)
    {
        var bot = options.Value.BotUsername?.Trim().TrimStart('@');
        return string.IsNullOrEmpty(bot) ? user.ReferralCode : $"https://t.me/{Uri.EscapeDataString(bot)}?start={user.ReferralCode}";
    }

    private async Task ShowAffiliateAsync(Ctx ctx, CancellationToken ct)
    {
        var userId = ctx.User.Id;
        var referrals = await db.Users.CountAsync(u => u.ReferrerId == userId, ct);
        var paying = await db.Commissions.Where(c => c.AffiliateId == userId).Select(c => c.BuyerId).Distinct().CountAsync(ct);
        var balance = await LedgerBook.AffiliateBalanceAsync(db, userId, ct);
        var tier = await affiliates.TierAsync(userId, ct);
        var rank = await affiliates.RankAsync(ctx.User, ct);
        var link = ReferralLink(ctx.User);
        var tierText = tier is null ? T(ctx, "Earn.NoTiers")
            : T(ctx, "Earn.Tier", BotTexts.Html(tier.Name ?? "-"),
                tier.Next is { } next ? T(ctx, "Earn.NextTier", BotTexts.Html(next.Name), next.RemainingPayingCustomers?.ToString(CultureInfo.InvariantCulture) ?? "-", next.RemainingSalesSats?.ToString(CultureInfo.InvariantCulture) ?? "-") : T(ctx, "Earn.TopTier"));
        var text = T(ctx, "Earn.Text",
            BotTexts.Html(link), referrals, paying, balance.Earned.Value, balance.Pending.Value, balance.Available.Value, balance.Paid.Value,
            tierText, rank?.ToString(CultureInfo.InvariantCulture) ?? "-",
            BotTexts.Html(ctx.User.PayoutDestination ?? T(ctx, "Earn.NoAddress")));
        var share = $"https://t.me/share/url?url={Uri.EscapeDataString(link)}&text={Uri.EscapeDataString(T(ctx, "Earn.ShareText"))}";
        var rows = new List<List<Button>>();
        if (link.StartsWith("https://", StringComparison.Ordinal)) rows.Add([new Button(T(ctx, "Button.Share"), Url: share)]);
        rows.Add([new Button(T(ctx, "Button.Withdraw"), "wd")]);
        rows.Add([new Button(T(ctx, "Button.Back"), "menu")]);
        await ShowAsync(ctx, text, rows, ct);
    }

    private async Task SetPayoutAddressAsync(Ctx ctx, string? address, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(address) || address.Length > 2048)
        {
            await SayAsync(ctx, T(ctx, "Payout.AddressHelp"), null, ct);
            return;
        }
        try
        {
            var network = NBitcoin.Network.GetNetwork(configuration["Bitcoin:Network"] ?? "mainnet") ?? NBitcoin.Network.Main;
            var destination = PayoutDestination.Parse(address.Trim(), network);
            if (destination.Kind == PayoutDestinationKind.Bolt11) throw new DomainException("invalid_destination", "A one-time invoice cannot be a standing payout address.", 422);
            ctx.User.PayoutDestination = destination.Value;
            await db.SaveChangesAsync(ct);
            await SayAsync(ctx, T(ctx, "Payout.AddressSaved", BotTexts.Html(destination.Value)), [[new Button(T(ctx, "Menu.Earn"), "earn")]], ct);
        }
        catch (DomainException)
        {
            await SayAsync(ctx, T(ctx, "Payout.AddressInvalid"), null, ct);
        }
    }

    private async Task<HandlerOutcome> WithdrawAsync(Ctx ctx, CallbackQuery query, CancellationToken ct)
    {
        if (!terms.AcceptedBy(ctx.Profile))
        {
            await ShowTermsAsync(ctx, "tacc:wd", ct);
            return new HandlerOutcome(query.Id, null);
        }
        if (ctx.User.PayoutDestination is null) return new HandlerOutcome(query.Id, T(ctx, "Payout.AddressHelp"), Alert: true);
        try
        {
            var payout = await payouts.RequestAsync(ctx.User.Id, null, null, ct);
            await SayAsync(ctx, T(ctx, "Payout.Requested", payout.AmountSats), null, ct);
            return new HandlerOutcome(query.Id, null);
        }
        catch (DomainException ex)
        {
            return new HandlerOutcome(query.Id, T(ctx, "Payout.Refused", ex.Message.Length > 150 ? ex.Message[..150] : ex.Message), Alert: true);
        }
    }

    private async Task ShowLeaderboardAsync(Ctx ctx, CancellationToken ct)
    {
        var top = await leaderboard.TopAsync(LeaderboardPeriod.All, 10, ct);
        var lines = top.Select(s => T(ctx, "Leaderboard.Line", s.Rank, BotTexts.Html(s.DisplayName), s.PayingCustomers, s.ReferredSalesSats));
        await ShowAsync(ctx, top.Count == 0 ? T(ctx, "Leaderboard.Empty") : T(ctx, "Leaderboard.Text") + "\n" + string.Join("\n", lines), Back(ctx), ct);
    }

    // ---------- terms and settings ----------

    private async Task ShowTermsAsync(Ctx ctx, string? acceptData, CancellationToken ct)
    {
        var text = terms.Text(ctx.Lang);
        if (text is null)
        {
            await ShowAsync(ctx, T(ctx, "Terms.None"), Back(ctx), ct);
            return;
        }
        var body = T(ctx, "Terms.Text", BotTexts.Html(text.Length > 3500 ? text[..3500] + "…" : text), BotTexts.Html(terms.Version));
        var rows = new List<List<Button>>();
        if (!terms.AcceptedBy(ctx.Profile) || acceptData is not null) rows.Add([new Button(T(ctx, "Button.Accept"), acceptData ?? "tacc")]);
        else body += "\n\n" + T(ctx, "Terms.AcceptedAt", BotTexts.Time(ctx.Profile.TermsAcceptedAt ?? now));
        rows.Add([new Button(T(ctx, "Button.Back"), "menu")]);
        await ShowAsync(ctx, body, rows, ct);
    }

    private async Task AcceptTermsAsync(Ctx ctx, CancellationToken ct)
    {
        if (!terms.Configured || ctx.Profile.TermsVersion == terms.Version) return;
        ctx.Profile.TermsVersion = terms.Version;
        ctx.Profile.TermsAcceptedAt = now;
        await db.SaveChangesAsync(ct);
    }

    private Task ShowSettingsAsync(Ctx ctx, CancellationToken ct) => ShowAsync(ctx, T(ctx, "Settings.Text"),
    [
        [new Button("English", "lang:en"), new Button("Русский", "lang:ru")],
        [new Button(T(ctx, ctx.Profile.MuteReminders ? "Settings.RemindersOff" : "Settings.RemindersOn"), "mute:r")],
        [new Button(T(ctx, ctx.Profile.MuteEarnings ? "Settings.EarningsOff" : "Settings.EarningsOn"), "mute:e")],
        [new Button(T(ctx, "Button.Back"), "menu")],
    ], ct);

    // ---------- join requests ----------

    private async Task<HandlerOutcome> OnJoinRequestAsync(ChatJoinRequest join, CancellationToken ct)
    {
        var externalId = join.From.Id.ToString(CultureInfo.InvariantCulture);
        var user = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.Platform == "telegram" && u.ExternalId == externalId, ct);
        var chatKeys = ChatKeys(join.Chat);
        var allowed = false;
        if (user is not null && !join.From.IsBot)
        {
            var planCodes = (await db.Plans.AsNoTracking().ToListAsync(ct)).Where(p => p.Chats.Any(c => chatKeys.Contains(c.Trim()))).Select(p => p.Code).ToList();
            var subs = await db.Subscriptions.AsNoTracking()
                .Where(s => s.UserId == user.Id && planCodes.Contains(s.PlanCode) && s.Status == SubscriptionStatus.Active).ToListAsync(ct);
            allowed = subs.Any(s => s.IsActiveAt(now));
        }
        var payload = new SendPayload { UserId = join.From.Id };
        await SendQueue.EnqueueAsync(db, $"join:{join.Chat.Id}:{join.From.Id}:{updateId}", join.Chat.Id, allowed ? SendKinds.Approve : SendKinds.Decline, payload, now, ct);
        logger.LogInformation("Join request to chat {ChatId}: {Decision}", join.Chat.Id, allowed ? "approved" : "declined");
        return HandlerOutcome.None;
    }

    /// <summary>How a chat may be named in <c>Plans:&lt;code&gt;:Chats</c>: its id or its @username.</summary>
    public static HashSet<string> ChatKeys(Chat chat)
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { chat.Id.ToString(CultureInfo.InvariantCulture) };
        if (!string.IsNullOrEmpty(chat.Username)) keys.Add("@" + chat.Username);
        return keys;
    }

    private async Task<HandlerOutcome> OnMyChatMemberAsync(ChatMemberUpdated member, CancellationToken ct)
    {
        var profile = await db.TelegramUsers.SingleOrDefaultAsync(p => p.ChatId == member.Chat.Id, ct);
        if (profile is null) return HandlerOutcome.None;
        if (member.NewChatMember.Status is ChatMemberStatus.Kicked) profile.UnreachableAt ??= now;
        else if (member.NewChatMember.Status is ChatMemberStatus.Member) profile.UnreachableAt = null;
        await db.SaveChangesAsync(ct);
        return HandlerOutcome.None;
    }

    // ---------- admin ----------

    private async Task ShowStatsAsync(Ctx ctx, CancellationToken ct)
    {
        var lines = new List<string>();
        foreach (var days in new[] { 1, 7, 30 })
        {
            var since = now.AddDays(-days);
            var sales = await db.Invoices.Where(i => i.Status == InvoiceStatus.Settled && i.SettledAt >= since).Select(i => i.AmountSats).ToListAsync(ct);
            var users = await db.Users.CountAsync(u => u.CreatedAt >= since, ct);
            var commissions = await db.Commissions.Where(c => c.CreatedAt >= since).Select(c => c.AmountSats).ToListAsync(ct);
            lines.Add(T(ctx, "Admin.StatsLine", days, sales.Count, sales.Sum(), users, commissions.Sum()));
        }
        var active = await db.Subscriptions.Where(s => s.Status == SubscriptionStatus.Active).Select(s => s.ExpiresAt).ToListAsync(ct);
        lines.Add(T(ctx, "Admin.StatsActive", active.Count(e => e > now)));
        await SayAsync(ctx, T(ctx, "Admin.StatsTitle") + "\n" + string.Join("\n", lines), null, ct);
    }

    private async Task ShowPendingPayoutsAsync(Ctx ctx, CancellationToken ct)
    {
        var pending = await db.Payouts.AsNoTracking().Where(p => p.Status == PayoutStatus.Requested)
            .OrderBy(p => p.RequestedAt).Take(10).ToListAsync(ct);
        if (pending.Count == 0)
        {
            await SayAsync(ctx, T(ctx, "Admin.NoPayouts"), null, ct);
            return;
        }
        foreach (var p in pending)
        {
            await SayAsync(ctx, T(ctx, "Admin.PayoutLine", p.AmountSats, BotTexts.Html(p.Destination), BotTexts.Time(p.RequestedAt)),
                [[new Button(T(ctx, "Button.Approve"), $"po:a:{p.Id:N}"), new Button(T(ctx, "Button.Reject"), $"po:r:{p.Id:N}")]], ct);
        }
    }

    private async Task<HandlerOutcome> DecidePayoutAsync(Ctx ctx, CallbackQuery query, Guid payoutId, bool approve, CancellationToken ct)
    {
        try
        {
            var payout = approve ? await payouts.ApproveAsync(payoutId, ct) : await payouts.RejectAsync(payoutId, "rejected by admin in Telegram", ct);
            await ShowAsync(ctx, T(ctx, approve ? "Admin.PayoutApproved" : "Admin.PayoutRejected", payout.AmountSats), null, ct);
            return new HandlerOutcome(query.Id, null);
        }
        catch (DomainException ex)
        {
            return new HandlerOutcome(query.Id, ex.Message.Length > 150 ? ex.Message[..150] : ex.Message, Alert: true);
        }
    }

    private async Task PreviewBroadcastAsync(Ctx ctx, string? text, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 3500)
        {
            await SayAsync(ctx, T(ctx, "Admin.BroadcastHelp"), null, ct);
            return;
        }
        await SayAsync(ctx, T(ctx, "Admin.BroadcastPreview"), null, ct);
        // The preview is the exact message (plain text); the confirm button takes its text from it.
        await SayAsync(ctx, text, [[new Button(T(ctx, "Button.Send"), "bc:ok"), new Button(T(ctx, "Button.Cancel"), "bc:no")]], ct, html: false);
    }

    private async Task<HandlerOutcome> ConfirmBroadcastAsync(Ctx ctx, CallbackQuery query, bool send, CancellationToken ct)
    {
        if (query.Message is not { Text: { Length: > 0 } text } preview) return Stale(query, ctx);
        if (!send)
        {
            await ShowAsync(ctx, T(ctx, "Admin.BroadcastCanceled"), null, ct);
            return new HandlerOutcome(query.Id, null);
        }
        var chats = await db.TelegramUsers.AsNoTracking().Where(u => u.UnreachableAt == null).Select(u => u.ChatId).ToListAsync(ct);
        var queued = 0;
        foreach (var chat in chats)
        {
            if (await SendQueue.MessageAsync(db, $"bc:{ctx.ChatId}:{preview.MessageId}:{chat}", chat, text, null, now, ct, html: false)) queued++;
        }
        await ShowAsync(ctx, T(ctx, "Admin.BroadcastQueued", queued), null, ct);
        return new HandlerOutcome(query.Id, null);
    }
}
