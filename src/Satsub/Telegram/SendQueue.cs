using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;

namespace Satsub.Telegram;

/// <summary>A button of an inline keyboard: callback data or a URL.</summary>
public sealed record Button(string Text, string? Data = null, string? Url = null);

/// <summary>What kind of Bot API call a queued send makes.</summary>
public static class SendKinds
{
    public const string Message = "message";
    /// <summary>editMessageText of <see cref="SendPayload.MessageId"/> or of the message of <see cref="SendPayload.TargetKey"/>.</summary>
    public const string Edit = "edit";
    /// <summary>sendPhoto of the QR code of <see cref="SendPayload.QrUri"/> with a caption.</summary>
    public const string Photo = "photo";
    public const string EditCaption = "edit_caption";
    /// <summary>createChatInviteLink (creates_join_request) for each of <see cref="SendPayload.Chats"/>, then one message with the links.</summary>
    public const string Access = "access";
    public const string Approve = "approve";
    public const string Decline = "decline";
    /// <summary>banChatMember then unbanChatMember in <see cref="SendPayload.Chats"/>: removed, but free to come back after paying.</summary>
    public const string Remove = "remove";
}

/// <summary>The parameters of a queued send (stored as JSON).</summary>
public sealed class SendPayload
{
    public string? Text { get; set; }
    /// <summary>HTML parse mode (every dynamic part is escaped), or plain text when false.</summary>
    public bool Html { get; set; } = true;
    public List<List<Button>>? Keyboard { get; set; }
    public long? MessageId { get; set; }
    public string? TargetKey { get; set; }
    public string? QrUri { get; set; }
    public List<string>? Chats { get; set; }
    public long? UserId { get; set; }
    /// <summary>The access message text after the links (Access kind): one line per chat is added before it.</summary>
    public string? LinkLabel { get; set; }

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string Serialize() => JsonSerializer.Serialize(this, Json);

    public static SendPayload Parse(string json) => JsonSerializer.Deserialize<SendPayload>(json, Json) ?? new SendPayload();
}

/// <summary>
/// Queues sends in the caller's transaction with <c>INSERT … ON CONFLICT (dedupe_key) DO NOTHING</c>: safe inside the
/// outbox dispatcher's transaction and on replays. Users who blocked the bot get nothing queued.
/// </summary>
public static class SendQueue
{
    public static async Task<bool> EnqueueAsync(SatsubDbContext db, string dedupeKey, long chatId, string kind, SendPayload payload, DateTimeOffset now, CancellationToken ct)
    {
        if (kind is SendKinds.Message or SendKinds.Photo or SendKinds.Access or SendKinds.Edit or SendKinds.EditCaption
            && await db.TelegramUsers.AnyAsync(u => u.ChatId == chatId && u.UnreachableAt != null, ct))
            return false;
        var key = dedupeKey.Length <= 200 ? dedupeKey : dedupeKey[..200];
        var rows = await db.Database.ExecuteSqlRawAsync(
            "INSERT INTO telegram_sends (dedupe_key, chat_id, kind, payload, status, created_at, available_at, attempts) " +
            "VALUES ({0}, {1}, {2}, {3}, 'pending', {4}, {4}, 0) ON CONFLICT (dedupe_key) DO NOTHING",
            [key, chatId, kind, payload.Serialize(), db.Time(now)], ct);
        return rows > 0;
    }

    public static Task<bool> MessageAsync(SatsubDbContext db, string dedupeKey, long chatId, string text, List<List<Button>>? keyboard, DateTimeOffset now, CancellationToken ct, bool html = true) =>
        EnqueueAsync(db, dedupeKey, chatId, SendKinds.Message, new SendPayload { Text = text, Keyboard = keyboard, Html = html }, now, ct);
}
