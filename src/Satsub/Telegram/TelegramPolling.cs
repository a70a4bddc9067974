using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;
using Telegram.Bot;
using Telegram.Bot.Types.Enums;

namespace Satsub.Telegram;

/// <summary>
/// getUpdates with an offset and a long-poll timeout. The offset resumes after the last update recorded in the
/// database, so a restart neither skips nor replays. A failing handler never stops the loop (the processor apologises);
/// when the database fails the offset is not advanced and the same updates come again.
/// </summary>
public sealed class TelegramPoller(IServiceScopeFactory scopes, TelegramBot bot, IOptions<TelegramOptions> options)
{
    public static readonly UpdateType[] AllowedUpdates =
        [UpdateType.Message, UpdateType.EditedMessage, UpdateType.CallbackQuery, UpdateType.ChatJoinRequest, UpdateType.MyChatMember];

    private int? offset;

    /// <summary>One long poll; returns how many updates came.</summary>
    public async Task<int> PollOnceAsync(CancellationToken ct, int? timeoutSeconds = null)
    {
        if (offset is null)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<SatsubDbContext>();
            var last = await db.TelegramUpdates.MaxAsync(u => (long?)u.UpdateId, ct);
            offset = last is { } l ? checked((int)(l + 1)) : null;
        }
        var updates = await bot.Client.GetUpdates(offset, 100, timeoutSeconds ?? options.Value.PollTimeoutSeconds, AllowedUpdates, ct);
        foreach (var update in updates)
        {
            await using (var scope = scopes.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<UpdateProcessor>().ProcessAsync(update, ct);
            }
            offset = update.Id + 1;
        }
        return updates.Length;
    }
}

/// <summary>Polls for as long as the server runs; network errors wait a little and poll again.</summary>
public sealed class TelegramPollingWorker(TelegramPoller poller, TelegramBot bot, TelegramSenderWorker sender, IServiceProvider services, TimeProvider clock, ILogger<TelegramPollingWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Updates are stored: wait for the migrated database.
        try { await Hosting.StartupGate.WhenServerReadyAsync(services, stoppingToken); }
        catch (Exception) { return; } // stopping, or the database could not be prepared
        try
        {
            // getUpdates is refused while a webhook is set.
            await bot.Client.DeleteWebhook(dropPendingUpdates: false, cancellationToken: stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogWarning("deleteWebhook failed: {Error}", ex.Message);
        }
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await poller.PollOnceAsync(stoppingToken) > 0) sender.Wake();
                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                failures++;
                var wait = TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, Math.Min(failures, 6))));
                logger.LogWarning("Polling Telegram failed ({Error}); again in {Wait}", ex.GetType().Name, wait);
                try { await Task.Delay(wait, clock, stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }
}
