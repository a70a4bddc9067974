using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Telegram.Bot;
using Telegram.Bot.Types;
using Telegram.Bot.Types.Enums;

namespace Satsub.Telegram;

/// <summary>
/// At start: sets the webhook in webhook mode, and checks that the bot is an administrator allowed to invite (and to
/// remove) members in every chat a plan grants — saying clearly which chat is wrong, without stopping Satsub.
/// </summary>
public sealed class TelegramStartupCheck(TelegramBot bot, IOptions<TelegramOptions> options, IServiceScopeFactory scopes, ILogger<TelegramStartupCheck> logger)
{
    /// <summary>Returns the problems found (also logged), one line per chat.</summary>
    public async Task<IReadOnlyList<string>> RunAsync(CancellationToken ct)
    {
        var o = options.Value;
        if (o.IsWebhook)
        {
            await bot.Client.SetWebhook(o.WebhookUrl!, allowedUpdates: TelegramPoller.AllowedUpdates, secretToken: o.WebhookSecret, cancellationToken: ct);
            logger.LogInformation("Telegram webhook set");
        }
        var me = await bot.Client.GetMe(ct);
        List<string> chats;
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
            chats = (await db.Plans.AsNoTracking().Where(p => p.Active).ToListAsync(ct)).SelectMany(p => p.Chats)
                .Where(c => !string.IsNullOrWhiteSpace(c)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        }
        var problems = new List<string>();
        foreach (var chat in chats)
        {
            string? problem;
            try
            {
                var member = await bot.Client.GetChatMember(TelegramSender.ChatOf(chat), me.Id, ct);
                problem = member switch
                {
                    ChatMemberOwner => null,
                    ChatMemberAdministrator { CanInviteUsers: true, CanRestrictMembers: true } => null,
                    ChatMemberAdministrator { CanInviteUsers: false } => "the bot is an admin without the right to invite users (needed for join requests)",
                    ChatMemberAdministrator => "the bot is an admin without the right to ban users (needed to remove lapsed members)",
                    _ => $"the bot is not an admin (status '{member.Status.ToString().ToLowerInvariant()}')",
                };
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                problem = $"the chat cannot be read ({ex.Message})";
            }
            if (problem is null) continue;
            problems.Add($"{chat}: {problem}");
            logger.LogError("Telegram chat {Chat} (Plans:<code>:Chats): {Problem}. Add @{Bot} as an administrator with 'Invite users' and 'Ban users'.", chat, problem, me.Username);
        }
        if (problems.Count == 0) logger.LogInformation("Telegram bot @{Bot} is on ({Mode}); {Count} chat(s) checked", me.Username, o.IsWebhook ? "webhook" : "polling", chats.Count);
        return problems;
    }
}

/// <summary>Runs the start-up check in the background (a Telegram outage must not stop Satsub from starting).</summary>
internal sealed class TelegramStartupService(TelegramStartupCheck check, ILogger<TelegramStartupService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await check.RunAsync(stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogError("The Telegram start-up check failed: {Error}", ex.Message);
        }
    }
}
