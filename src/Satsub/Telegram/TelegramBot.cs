using Microsoft.Extensions.Options;
using Telegram.Bot;
using Telegram.Bot.Types.ReplyMarkups;

namespace Satsub.Telegram;

/// <summary>
/// The Bot API client (Telegram.Bot) on Satsub's own HTTP client: a time-out on every call (the long poll's own
/// timeout added), no automatic retries — the sender and the poller decide what is safe to repeat.
/// </summary>
public sealed class TelegramBot
{
    public const string HttpClientName = "telegram";

    public TelegramBot(IOptions<TelegramOptions> options, IHttpClientFactory http)
    {
        var o = options.Value;
        var token = o.BotToken?.Trim() ?? throw new InvalidOperationException("Telegram:BotToken is not set.");
        var client = http.CreateClient(HttpClientName);
        client.Timeout = TimeSpan.FromSeconds(o.RequestTimeoutSeconds + o.PollTimeoutSeconds);
        Client = new TelegramBotClient(new TelegramBotClientOptions(token, o.ApiBaseUrl.TrimEnd('/')) { RetryCount = 0 }, client);
        // The bot's numeric id (the part of the token before ':') names its shared rate budget; it is not secret.
        BotId = token.Split(':')[0];
    }

    public ITelegramBotClient Client { get; }
    public string BotId { get; }

    public static InlineKeyboardMarkup? Keyboard(List<List<Button>>? rows) =>
        rows is null || rows.Count == 0
            ? null
            : new InlineKeyboardMarkup(rows.Select(r => r.Select(b => b.Url is not null
                ? InlineKeyboardButton.WithUrl(b.Text, b.Url)
                : InlineKeyboardButton.WithCallbackData(b.Text, b.Data ?? "menu"))));
}
