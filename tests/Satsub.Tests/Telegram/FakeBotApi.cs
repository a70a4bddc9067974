using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Telegram;

/// <summary>
/// A stand-in for the Telegram Bot API on a real local HTTP server, speaking its documented protocol:
/// <c>POST /bot&lt;token&gt;/&lt;method&gt;</c> with JSON, url-encoded or multipart bodies; answers
/// <c>{ok:true,result}</c> or <c>{ok:false,error_code,description,parameters:{retry_after}}</c> with the matching HTTP status;
/// dates in Unix seconds; 64-bit ids. It records every call (method, parameters and how each was encoded) so tests can
/// check both behaviour and conformance with the reference. getUpdates hands out the updates the test queued, honouring
/// <c>offset</c> (earlier updates are confirmed and dropped, as Telegram does) and <c>limit</c>.
/// </summary>
public sealed class FakeBotApi : IAsyncDisposable
{
    public const string Token = "123456789:AAHfakeTokenForSatsubTests_0123456789";
    public const long BotUserId = 123456789;

    /// <summary>One parameter as sent: its JSON value (form fields are JSON strings) and whether it came as a form field or file.</summary>
    public sealed record Param(JsonNode? Value, bool FromForm, bool IsFile);

    public sealed record Call(string Method, IReadOnlyDictionary<string, Param> Params, string ContentType)
    {
        public string? Str(string name) => Params.TryGetValue(name, out var p) && p.Value is JsonValue v ? v.ToString() : null;
        public long? Long(string name) => Str(name) is { } s && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
        /// <summary>The text or caption sent ("" when neither).</summary>
        public string Text() => Str("text") ?? Str("caption") ?? "";
        public bool? Bool(string name) => Str(name) is { } s ? s is "true" or "True" : null;

        /// <summary>A JSON-valued parameter (reply_markup…), whether sent as JSON or as a JSON string in a form.</summary>
        public JsonNode? Json(string name) => Params.TryGetValue(name, out var p)
            ? p.FromForm && p.Value is JsonValue v ? JsonNode.Parse(v.ToString()) : p.Value
            : null;

        /// <summary>Every button of the inline keyboard, as (text, callback_data, url).</summary>
        public IReadOnlyList<(string Text, string? Data, string? Url)> Buttons() =>
            Json("reply_markup")?["inline_keyboard"]?.AsArray().SelectMany(r => r!.AsArray())
                .Select(b => (b!["text"]!.GetValue<string>(), b["callback_data"]?.GetValue<string>(), b["url"]?.GetValue<string>())).ToList()
            ?? [];
    }

    private readonly LocalHttpServer server;
    private readonly ConcurrentQueue<Call> calls = new();
    private readonly List<JsonObject> updates = [];
    private readonly Lock gate = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<(int Code, string Description, int? RetryAfter)>> failures = new();
    private readonly Func<long> unixNow;
    private int nextMessageId = 1000;
    private int nextUpdateId = 500_000;

    /// <summary>Chats where the bot is not an administrator (getChatMember answers 'member').</summary>
    public HashSet<string> ChatsWithoutRights { get; } = [];

    private FakeBotApi(LocalHttpServer server, Func<long> unixNow)
    {
        this.server = server;
        this.unixNow = unixNow;
    }

    public Uri BaseUri => server.BaseUri;
    public IReadOnlyList<Call> Calls => calls.ToList();
    public IReadOnlyList<Call> CallsOf(string method) => calls.Where(c => c.Method == method).ToList();

    public static async Task<FakeBotApi> StartAsync(Func<long> unixNow)
    {
        FakeBotApi? fake = null;
        var server = await LocalHttpServer.StartAsync(app => app.Map("/{bot}/{method}", (HttpContext http, string bot, string method) => fake!.HandleAsync(http, bot, method)));
        fake = new FakeBotApi(server, unixNow);
        return fake;
    }

    /// <summary>The next call of <paramref name="method"/> fails with this error (as Telegram reports it).</summary>
    public void FailNext(string method, int code, string description, int? retryAfter = null) =>
        failures.GetOrAdd(method, _ => new()).Enqueue((code, description, retryAfter));

    public long Enqueue(JsonObject update)
    {
        lock (gate)
        {
            var id = update["update_id"] is { } given ? long.Parse(given.ToJsonString(), CultureInfo.InvariantCulture) : ++nextUpdateId;
            update["update_id"] = id;
            updates.Add(update);
            return id;
        }
    }

    public void ClearCalls() => calls.Clear();

    private async Task<IResult> HandleAsync(HttpContext http, string bot, string method)
    {
        if (bot != "bot" + Token) return Error(401, "Unauthorized");
        var parameters = new Dictionary<string, Param>(StringComparer.Ordinal);
        var contentType = http.Request.ContentType ?? "";
        if (http.Request.HasJsonContentType())
        {
            var body = await JsonNode.ParseAsync(http.Request.Body);
            if (body is not JsonObject o) return Error(400, "Bad Request: invalid JSON");
            foreach (var (k, v) in o) parameters[k] = new Param(v?.DeepClone(), false, false);
        }
        else if (http.Request.HasFormContentType)
        {
            var form = await http.Request.ReadFormAsync();
            foreach (var (k, v) in form) parameters[k] = new Param(JsonValue.Create(v.ToString()), true, false);
            // A file is the part named after the parameter, or a part the parameter names as "attach://<part>".
            var attached = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (k, p) in parameters.ToList())
            {
                if (p.Value?.ToString() is { } v && v.StartsWith("attach://", StringComparison.Ordinal) && form.Files.GetFile(v["attach://".Length..]) is { } file)
                {
                    parameters[k] = new Param(JsonValue.Create("<file " + file.FileName + ">"), true, true);
                    attached.Add(file.Name);
                }
            }
            foreach (var f in form.Files.Where(f => !attached.Contains(f.Name)))
                parameters[f.Name] = new Param(JsonValue.Create("<file " + f.FileName + ">"), true, true);
        }
        foreach (var (k, v) in http.Request.Query) parameters.TryAdd(k, new Param(JsonValue.Create(v.ToString()), true, false));
        var call = new Call(method, parameters, contentType);
        calls.Enqueue(call);

        if (failures.TryGetValue(method, out var queue) && queue.TryDequeue(out var failure))
            return Error(failure.Code, failure.Description, failure.RetryAfter);

        return method switch
        {
            "getUpdates" => Ok(GetUpdates(call)),
            "getMe" => Ok(BotUser()),
            "setWebhook" or "deleteWebhook" or "answerCallbackQuery" or "approveChatJoinRequest" or "declineChatJoinRequest"
                or "banChatMember" or "unbanChatMember" => Ok(JsonValue.Create(true)),
            "sendMessage" => Ok(Message(call, text: call.Str("text"))),
            "sendPhoto" => Ok(Message(call, caption: call.Str("caption"), photo: true)),
            "editMessageText" => Ok(Message(call, text: call.Str("text"), messageId: call.Long("message_id"))),
            "editMessageCaption" => Ok(Message(call, caption: call.Str("caption"), photo: true, messageId: call.Long("message_id"))),
            "createChatInviteLink" => Ok(new JsonObject
            {
                ["invite_link"] = $"https://t.me/+fake{Guid.NewGuid():N}",
                ["creator"] = BotUser(),
                ["creates_join_request"] = call.Bool("creates_join_request") ?? false,
                ["is_primary"] = false,
                ["is_revoked"] = false,
                ["name"] = call.Str("name"),
                ["expire_date"] = call.Long("expire_date"),
            }),
            "getChatMember" => Ok(ChatMember(call)),
            _ => Error(404, "Not Found: method not found"),
        };
    }

    private JsonArray GetUpdates(Call call)
    {
        var offset = call.Long("offset");
        var limit = (int)(call.Long("limit") ?? 100);
        lock (gate)
        {
            // An offset confirms every update before it: Telegram forgets them.
            if (offset is { } o) updates.RemoveAll(u => u["update_id"]!.GetValue<long>() < o);
            return new JsonArray(updates.Take(limit).Select(u => (JsonNode)u.DeepClone()).ToArray());
        }
    }

    private JsonObject BotUser() => new() { ["id"] = BotUserId, ["is_bot"] = true, ["first_name"] = "Satsub", ["username"] = "satsub_test_bot" };

    private JsonObject Message(Call call, string? text = null, string? caption = null, bool photo = false, long? messageId = null)
    {
        var chatId = call.Long("chat_id") ?? 0;
        var message = new JsonObject
        {
            ["message_id"] = messageId ?? Interlocked.Increment(ref nextMessageId),
            ["from"] = BotUser(),
            ["chat"] = chatId > 0
                ? new JsonObject { ["id"] = chatId, ["type"] = "private", ["first_name"] = "User" }
                : new JsonObject { ["id"] = chatId, ["type"] = "supergroup", ["title"] = "Group" },
            ["date"] = unixNow(),
        };
        if (messageId is not null) message["edit_date"] = unixNow();
        if (text is not null) message["text"] = text;
        if (caption is not null) message["caption"] = caption;
        if (photo) message["photo"] = new JsonArray(new JsonObject { ["file_id"] = "AgAD" + message["message_id"], ["file_unique_id"] = "u" + message["message_id"], ["width"] = 320, ["height"] = 320 });
        if (call.Json("reply_markup") is JsonObject markup) message["reply_markup"] = markup.DeepClone();
        return message;
    }

    private JsonObject ChatMember(Call call)
    {
        var chat = call.Str("chat_id") ?? "";
        if (ChatsWithoutRights.Contains(chat))
            return new JsonObject { ["status"] = "member", ["user"] = BotUser() };
        return new JsonObject
        {
            ["status"] = "administrator", ["user"] = BotUser(), ["can_be_edited"] = false, ["is_anonymous"] = false,
            ["can_manage_chat"] = true, ["can_delete_messages"] = true, ["can_manage_video_chats"] = true, ["can_restrict_members"] = true,
            ["can_promote_members"] = false, ["can_change_info"] = false, ["can_invite_users"] = true, ["can_post_stories"] = false,
            ["can_edit_stories"] = false, ["can_delete_stories"] = false,
        };
    }

    private static IResult Ok(JsonNode? result) =>
        Results.Content(new JsonObject { ["ok"] = true, ["result"] = result }.ToJsonString(), "application/json");

    private static IResult Error(int code, string description, int? retryAfter = null)
    {
        var body = new JsonObject { ["ok"] = false, ["error_code"] = code, ["description"] = description };
        if (retryAfter is { } r) body["parameters"] = new JsonObject { ["retry_after"] = r };
        return Results.Content(body.ToJsonString(), "application/json", statusCode: code);
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();

    // ---------- updates as Telegram sends them ----------

    public static JsonObject From(long userId, string language = "en", string? username = null) => new()
    {
        ["id"] = userId, ["is_bot"] = false, ["first_name"] = "User" + userId, ["username"] = username, ["language_code"] = language,
    };

    public JsonObject TextMessage(long userId, string text, string language = "en") => new()
    {
        ["message"] = new JsonObject
        {
            ["message_id"] = Interlocked.Increment(ref nextMessageId),
            ["from"] = From(userId, language),
            ["chat"] = new JsonObject { ["id"] = userId, ["type"] = "private", ["first_name"] = "User" + userId },
            ["date"] = unixNow(),
            ["text"] = text,
            ["entities"] = text.StartsWith('/') ? new JsonArray(new JsonObject { ["type"] = "bot_command", ["offset"] = 0, ["length"] = text.Split(' ')[0].Length }) : null,
        },
    };

    public JsonObject Sticker(long userId) => new()
    {
        ["message"] = new JsonObject
        {
            ["message_id"] = Interlocked.Increment(ref nextMessageId),
            ["from"] = From(userId),
            ["chat"] = new JsonObject { ["id"] = userId, ["type"] = "private", ["first_name"] = "User" + userId },
            ["date"] = unixNow(),
            ["sticker"] = new JsonObject { ["file_id"] = "CAAD", ["file_unique_id"] = "s1", ["type"] = "regular", ["width"] = 512, ["height"] = 512, ["is_animated"] = false, ["is_video"] = false },
        },
    };

    public JsonObject EditedMessage(long userId, string text) => new()
    {
        ["edited_message"] = new JsonObject
        {
            ["message_id"] = Interlocked.Increment(ref nextMessageId),
            ["from"] = From(userId),
            ["chat"] = new JsonObject { ["id"] = userId, ["type"] = "private", ["first_name"] = "User" + userId },
            ["date"] = unixNow(), ["edit_date"] = unixNow(), ["text"] = text,
        },
    };

    /// <summary>A button press on a message the bot sent (a photo when <paramref name="photo"/>).</summary>
    public JsonObject Callback(long userId, string data, long messageId, bool photo = false, string? messageText = null)
    {
        var message = new JsonObject
        {
            ["message_id"] = messageId, ["from"] = BotUser(),
            ["chat"] = new JsonObject { ["id"] = userId, ["type"] = "private", ["first_name"] = "User" + userId },
            ["date"] = unixNow(),
        };
        if (photo) message["photo"] = new JsonArray(new JsonObject { ["file_id"] = "AgAD", ["file_unique_id"] = "p", ["width"] = 320, ["height"] = 320 });
        else message["text"] = messageText ?? "menu";
        return new JsonObject
        {
            ["callback_query"] = new JsonObject
            {
                ["id"] = "cb" + Interlocked.Increment(ref nextMessageId), ["from"] = From(userId), ["message"] = message,
                ["chat_instance"] = "ci" + userId, ["data"] = data,
            },
        };
    }

    public JsonObject JoinRequest(long userId, long chatId) => new()
    {
        ["chat_join_request"] = new JsonObject
        {
            ["chat"] = new JsonObject { ["id"] = chatId, ["type"] = "supergroup", ["title"] = "Members" },
            ["from"] = From(userId), ["user_chat_id"] = userId, ["date"] = unixNow(),
        },
    };

    public static string Serialize(JsonObject o) => o.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
}
