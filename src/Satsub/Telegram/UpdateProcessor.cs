using Microsoft.EntityFrameworkCore;
using Satsub.Data;
using Telegram.Bot;
using Telegram.Bot.Types;
using Telegram.Bot.Types.Enums;

namespace Satsub.Telegram;

/// <summary>
/// Handles one update exactly once: its id is recorded in the same transaction as everything the handler queues, so a
/// redelivered update (a restart, a webhook retry, a second instance) finds the record and does nothing. A handler
/// that throws is rolled back, the update is recorded as failed and the user gets a short apology.
/// </summary>
public sealed class UpdateProcessor(SatsubDbContext db, BotHandlers handlers, TelegramBot bot, TimeProvider clock, ILogger<UpdateProcessor> logger)
{
    /// <summary>Returns false when the update was a duplicate. Throws only when the database itself fails.</summary>
    public async Task<bool> ProcessAsync(Update update, CancellationToken ct)
    {
        HandlerOutcome outcome;
        var now = clock.GetUtcNow();
        try
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            db.TelegramUpdates.Add(new TelegramUpdateRecord { UpdateId = update.Id, ReceivedAt = now });
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
            {
                logger.LogDebug("Update {UpdateId} was already handled", update.Id);
                return false;
            }
            outcome = await handlers.HandleAsync(update, ct);
            await tx.CommitAsync(ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && !DbErrors.IsUnavailable(ex))
        {
            logger.LogError(ex, "Handling update {UpdateId} failed; the user gets an apology", update.Id);
            db.ChangeTracker.Clear();
            if (!await RecordFailureAsync(update, ex, now, ct)) return false;
            outcome = update.CallbackQuery is { } q ? new HandlerOutcome(q.Id, BotHandlers.Apology(q.From.LanguageCode), Alert: true) : HandlerOutcome.None;
        }
        if (outcome.CallbackQueryId is { } id)
        {
            try
            {
                // Answered at once (not queued): Telegram shows a spinner until then, and the query expires quickly.
                await bot.Client.AnswerCallbackQuery(id, outcome.CallbackText, outcome.Alert, cancellationToken: ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                logger.LogInformation("answerCallbackQuery failed: {Error}", ex.GetType().Name);
            }
        }
        return true;
    }

    private async Task<bool> RecordFailureAsync(Update update, Exception ex, DateTimeOffset now, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var error = ex.GetType().Name;
        var inserted = await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO telegram_updates (update_id, received_at, error) VALUES ({0}, {1}, {2}) ON CONFLICT (update_id) DO NOTHING",
            [update.Id, db.Time(now), error.Length <= 256 ? error : error[..256]], ct);
        if (inserted == 0) return false;
        var (chatId, language) = update switch
        {
            { Message: { Chat.Type: ChatType.Private } m } => (m.Chat.Id, m.From?.LanguageCode),
            { CallbackQuery: { } q } => (q.From.Id, q.From.LanguageCode),
            _ => (0L, null),
        };
        // A failed button press is answered with an alert instead; a failed message gets a message.
        if (chatId != 0 && update.CallbackQuery is null)
            await SendQueue.MessageAsync(db, $"upd:{update.Id}:apology", chatId, BotHandlers.Apology(language), null, now, ct);
        await tx.CommitAsync(ct);
        return true;
    }
}
