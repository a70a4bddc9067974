using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Satsub.Operations;
using Satsub.Hosting;
using Satsub.Outbox;
using Satsub.Payments;
using Telegram.Bot;
using Telegram.Bot.Exceptions;
using Telegram.Bot.Types;
using Telegram.Bot.Types.Enums;

namespace Satsub.Telegram;

/// <summary>
/// Delivers queued sends within Telegram's limits: a budget per second for the bot and one per chat, both kept in
/// <c>telegram_rate_windows</c> and taken with one atomic upsert, so every instance on the same database shares them.
/// A send is leased before it is made (a conditional update of its due time), so two instances never make the same
/// call. 429 waits <c>retry_after</c>; 403 (the user blocked the bot) marks the user unreachable and stops; other
/// client errors are final; network and server errors are retried with back-off.
/// </summary>
public sealed class TelegramSender(SatsubDbContext db, TelegramBot bot, IOptions<TelegramOptions> options, TimeProvider clock, SatsubMetrics metrics, ILogger<TelegramSender> logger)
{
    public const int MaxAttempts = 8;
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    private enum Outcome { Sent, Skipped, Postponed, BudgetExhausted }

    /// <summary>Sends what is due and fits this second's budget; returns how many calls succeeded.</summary>
    public async Task<int> SendDueAsync(CancellationToken ct)
    {
        db.ChangeTracker.Clear();
        var now = clock.GetUtcNow();
        var due = await db.TelegramSends.AsNoTracking()
            .Where(s => s.Status == TelegramSendStatus.Pending && s.AvailableAt <= now)
            .OrderBy(s => s.AvailableAt).ThenBy(s => s.Id).Take(100).ToListAsync(ct);
        var sent = 0;
        foreach (var send in due)
        {
            var outcome = await TrySendAsync(send, ct);
            if (outcome == Outcome.Sent) sent++;
            if (outcome == Outcome.BudgetExhausted) break;
        }
        if (due.Count == 0) await PruneRateWindowsAsync(ct);
        return sent;
    }

    private static long lastPrunedSecond;

    /// <summary>
    /// Forgets the per-chat budgets of past seconds (one row per chat ever messaged would otherwise stay for ever):
    /// at most every few minutes per process, when nothing is due. A window is only ever compared with the current
    /// second, so an old row carries no information.
    /// </summary>
    public async Task<int> PruneRateWindowsAsync(CancellationToken ct, bool force = false)
    {
        var second = clock.GetUtcNow().ToUnixTimeSeconds();
        var last = Interlocked.Read(ref lastPrunedSecond);
        if (!force && second - last < 300) return 0;
        if (Interlocked.CompareExchange(ref lastPrunedSecond, second, last) != last && !force) return 0;
        var before = second - 60;
        return await db.TelegramRateWindows.Where(w => w.WindowSecond < before).ExecuteDeleteAsync(ct);
    }

    private async Task<Outcome> TrySendAsync(TelegramSend send, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var nextSecond = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + 1);
        var claimed = await db.TelegramSends
            .Where(s => s.Id == send.Id && s.Status == TelegramSendStatus.Pending && s.AvailableAt == send.AvailableAt)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.AvailableAt, now + Lease), ct);
        if (claimed == 0) return Outcome.Skipped; // another instance has it

        var payload = SendPayload.Parse(send.Payload);
        long? targetMessageId = payload.MessageId;
        if (payload.TargetKey is { } targetKey && targetMessageId is null)
        {
            var target = await db.TelegramSends.AsNoTracking().Where(s => s.DedupeKey == targetKey)
                .Select(s => new { s.Status, s.MessageId }).SingleOrDefaultAsync(ct);
            if (target is null || target.Status is TelegramSendStatus.Failed or TelegramSendStatus.Dropped)
                return await FinishAsync(send, TelegramSendStatus.Dropped, null, "target message was never sent", ct);
            if (target.MessageId is null) return await PostponeAsync(send, nextSecond, null, ct);
            targetMessageId = target.MessageId;
        }

        var second = now.ToUnixTimeSeconds();
        if (!await TakeAsync($"chat:{bot.BotId}:{send.ChatId}", second, options.Value.MessagesPerChatPerSecond, ct))
            return await PostponeAsync(send, nextSecond, null, ct, Outcome.Postponed);
        if (!await TakeAsync($"bot:{bot.BotId}", second, options.Value.MessagesPerSecond, ct))
            return await PostponeAsync(send, nextSecond, null, ct, Outcome.BudgetExhausted);

        try
        {
            var messageId = await ExecuteAsync(send, payload, targetMessageId, now, ct);
            metrics.TelegramSend(send.Kind, "ok");
            return await FinishAsync(send, TelegramSendStatus.Sent, messageId, null, ct);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 429)
        {
            metrics.TelegramSend(send.Kind, "rate_limited");
            var wait = Math.Clamp(ex.Parameters?.RetryAfter ?? 1, 1, 3600);
            logger.LogWarning("Telegram asked to wait {Seconds} s (429) before send {SendId}", wait, send.Id);
            var until = now.AddSeconds(wait);
            // The chat's later messages wait too, so they keep their order.
            await db.TelegramSends.Where(s => s.ChatId == send.ChatId && s.Status == TelegramSendStatus.Pending && s.Id != send.Id && s.AvailableAt < until)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.AvailableAt, until), ct);
            return await PostponeAsync(send, until, "429 retry_after " + wait, ct);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 403 && IsToUser(send.Kind))
        {
            metrics.TelegramSend(send.Kind, "error");
            logger.LogInformation("Chat {ChatId} blocked the bot (403): marked unreachable", send.ChatId);
            await db.TelegramUsers.Where(u => u.ChatId == send.ChatId && u.UnreachableAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.UnreachableAt, now), ct);
            await db.TelegramSends.Where(s => s.ChatId == send.ChatId && s.Status == TelegramSendStatus.Pending && s.Id != send.Id
                    && s.Kind != SendKinds.Approve && s.Kind != SendKinds.Decline && s.Kind != SendKinds.Remove)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.Status, TelegramSendStatus.Dropped).SetProperty(x => x.LastError, "403 blocked"), ct);
            return await FinishAsync(send, TelegramSendStatus.Dropped, null, "403 " + Short(ex.Message), ct);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode == 400 && ex.Message.Contains("message is not modified", StringComparison.OrdinalIgnoreCase))
        {
            return await FinishAsync(send, TelegramSendStatus.Sent, targetMessageId, null, ct);
        }
        catch (ApiRequestException ex) when (ex.ErrorCode is >= 400 and < 500)
        {
            metrics.TelegramSend(send.Kind, "error");
            // A request Telegram refuses as such (bad chat, missing rights, message gone): repeating it cannot help.
            logger.LogWarning("Telegram refused send {SendId} ({Kind}): {Code} {Description}", send.Id, send.Kind, ex.ErrorCode, Short(ex.Message));
            return await FinishAsync(send, TelegramSendStatus.Failed, null, $"{ex.ErrorCode} {Short(ex.Message)}", ct);
        }
        catch (Exception ex) when (ex is ApiRequestException or RequestException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            metrics.TelegramSend(send.Kind, "error");
            var attempts = send.Attempts + 1;
            if (attempts >= MaxAttempts) return await FinishAsync(send, TelegramSendStatus.Failed, null, Short(ex.GetType().Name + ": " + ex.Message), ct, attempts);
            var backoff = TimeSpan.FromSeconds(Math.Min(600, Math.Pow(2, attempts)));
            logger.LogWarning("Send {SendId} failed ({Error}); retry in {Backoff}", send.Id, ex.GetType().Name, backoff);
            await db.TelegramSends.Where(s => s.Id == send.Id).ExecuteUpdateAsync(s => s
                .SetProperty(x => x.AvailableAt, now + backoff).SetProperty(x => x.Attempts, attempts)
                .SetProperty(x => x.LastError, Short(ex.GetType().Name + ": " + ex.Message)), ct);
            return Outcome.Skipped;
        }
    }

    private static bool IsToUser(string kind) => kind is SendKinds.Message or SendKinds.Photo or SendKinds.Edit or SendKinds.EditCaption or SendKinds.Access;

    private static string Short(string text) => text.Length <= 400 ? text : text[..400];

    private async Task<Outcome> PostponeAsync(TelegramSend send, DateTimeOffset until, string? error, CancellationToken ct, Outcome outcome = Outcome.Postponed)
    {
        await db.TelegramSends.Where(s => s.Id == send.Id).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.AvailableAt, until).SetProperty(x => x.LastError, error ?? send.LastError), ct);
        return outcome;
    }

    private async Task<Outcome> FinishAsync(TelegramSend send, TelegramSendStatus status, long? messageId, string? error, CancellationToken ct, int? attempts = null)
    {
        var now = clock.GetUtcNow();
        await db.TelegramSends.Where(s => s.Id == send.Id).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.Status, status)
            .SetProperty(x => x.SentAt, status == TelegramSendStatus.Sent ? now : null)
            .SetProperty(x => x.MessageId, messageId)
            .SetProperty(x => x.Attempts, attempts ?? send.Attempts + 1)
            .SetProperty(x => x.LastError, error), ct);
        return status == TelegramSendStatus.Sent ? Outcome.Sent : Outcome.Skipped;
    }

    /// <summary>One unit of a bucket's budget for this second, or false when it is spent (shared by every instance).</summary>
    private async Task<bool> TakeAsync(string bucket, long second, int limit, CancellationToken ct) =>
        await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO telegram_rate_windows (bucket, window_second, used) VALUES ({0}, {1}, 1) " +
            "ON CONFLICT (bucket) DO UPDATE SET " +
            "used = CASE WHEN telegram_rate_windows.window_second = excluded.window_second THEN telegram_rate_windows.used + 1 ELSE 1 END, " +
            "window_second = excluded.window_second " +
            "WHERE telegram_rate_windows.window_second <> excluded.window_second OR telegram_rate_windows.used < {2}",
            [bucket, second, limit], ct) > 0;

    private async Task<long?> ExecuteAsync(TelegramSend send, SendPayload p, long? messageId, DateTimeOffset now, CancellationToken ct)
    {
        var client = bot.Client;
        var mode = p.Html ? ParseMode.Html : ParseMode.None;
        var keyboard = TelegramBot.Keyboard(p.Keyboard);
        var noPreview = new LinkPreviewOptions { IsDisabled = true };
        switch (send.Kind)
        {
            case SendKinds.Message:
                return (await client.SendMessage(send.ChatId, p.Text ?? "", parseMode: mode, replyMarkup: keyboard, linkPreviewOptions: noPreview, cancellationToken: ct)).MessageId;
            case SendKinds.Edit:
                await client.EditMessageText(send.ChatId, checked((int)messageId!.Value), p.Text ?? "", parseMode: mode, replyMarkup: keyboard, linkPreviewOptions: noPreview, cancellationToken: ct);
                return messageId;
            case SendKinds.EditCaption:
                await client.EditMessageCaption(send.ChatId, checked((int)messageId!.Value), p.Text ?? "", parseMode: mode, replyMarkup: keyboard, cancellationToken: ct);
                return messageId;
            case SendKinds.Photo:
            {
                using var png = new MemoryStream(InvoiceQrApi.Render(p.QrUri ?? "-"));
                return (await client.SendPhoto(send.ChatId, InputFile.FromStream(png, "invoice.png"), caption: p.Text, parseMode: mode, replyMarkup: keyboard, cancellationToken: ct)).MessageId;
            }
            case SendKinds.Access:
            {
                var rows = new List<List<Button>>();
                var index = 0;
                foreach (var chat in p.Chats ?? [])
                {
                    index++;
                    try
                    {
                        // Personal and useless to anyone else: joining asks the bot, which checks the subscription.
                        var link = await client.CreateChatInviteLink(ChatOf(chat), name: $"satsub {send.ChatId}".Length <= 32 ? $"satsub {send.ChatId}" : "satsub",
                            expireDate: now.UtcDateTime.AddDays(7), createsJoinRequest: true, cancellationToken: ct);
                        rows.Add([new Button(p.Chats!.Count == 1 ? p.LinkLabel ?? "Join" : $"{p.LinkLabel ?? "Join"} {index}", Url: link.InviteLink)]);
                    }
                    catch (ApiRequestException ex) when (ex.ErrorCode != 429)
                    {
                        logger.LogError("Cannot create an invite link for chat {Chat}: {Code} {Description}. Make the bot an admin with the right to invite users.", chat, ex.ErrorCode, Short(ex.Message));
                    }
                }
                return (await client.SendMessage(send.ChatId, p.Text ?? "", parseMode: mode, replyMarkup: TelegramBot.Keyboard(rows), linkPreviewOptions: noPreview, cancellationToken: ct)).MessageId;
            }
            case SendKinds.Approve:
                await client.ApproveChatJoinRequest(send.ChatId, p.UserId!.Value, ct);
                return null;
            case SendKinds.Decline:
                await client.DeclineChatJoinRequest(send.ChatId, p.UserId!.Value, ct);
                return null;
            case SendKinds.Remove:
                foreach (var chat in p.Chats ?? [])
                {
                    // Ban removes the member; the immediate unban lets them come back through a new link after paying.
                    await client.BanChatMember(ChatOf(chat), p.UserId!.Value, cancellationToken: ct);
                    await client.UnbanChatMember(ChatOf(chat), p.UserId!.Value, onlyIfBanned: true, cancellationToken: ct);
                }
                return null;
            default:
                throw new InvalidOperationException($"Unknown send kind '{send.Kind}'.");
        }
    }

    public static ChatId ChatOf(string configured) =>
        long.TryParse(configured.Trim(), out var id) ? new ChatId(id) : new ChatId(configured.Trim());
}

/// <summary>Runs the sender every second, and at once when the outbox dispatcher or an update queued something.</summary>
public sealed class TelegramSenderWorker : PeriodicJob
{
    public TelegramSenderWorker(IServiceScopeFactory scopes, TimeProvider clock, ILogger<TelegramSenderWorker> logger, OutboxDispatcherWorker dispatcher)
        : base(scopes, clock, logger) => dispatcher.Dispatched += Wake;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(1);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken ct)
    {
        var sender = services.GetRequiredService<TelegramSender>();
        while (await sender.SendDueAsync(ct) > 0 && !ct.IsCancellationRequested) { }
    }
}
