using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Satsub.Telegram;

/// <summary><c>Telegram:*</c>. Without <see cref="BotToken"/> the bot is off and the rest of Satsub runs.</summary>
public sealed class TelegramOptions
{
    public const string Section = "Telegram";
    public const string DefaultApiBaseUrl = "https://api.telegram.org";

    public string? BotToken { get; set; }
    /// <summary>Scheme and host (and port) of the Bot API; tests point it at a local fake.</summary>
    public string ApiBaseUrl { get; set; } = DefaultApiBaseUrl;
    /// <summary><c>polling</c> (default) or <c>webhook</c>.</summary>
    public string Mode { get; set; } = "polling";
    public string? WebhookUrl { get; set; }
    public string? WebhookSecret { get; set; }
    public string? BotUsername { get; set; }
    /// <summary>Telegram user ids allowed to use /stats, /broadcast and the payout approvals.</summary>
    public List<long> AdminIds { get; set; } = [];
    /// <summary>Long-poll timeout of getUpdates, in seconds.</summary>
    public int PollTimeoutSeconds { get; set; } = 25;
    /// <summary>Messages per second across every instance sharing the database (Telegram allows about 30).</summary>
    public int MessagesPerSecond { get; set; } = 25;
    /// <summary>Messages per second to one chat (Telegram allows about 1).</summary>
    public int MessagesPerChatPerSecond { get; set; } = 1;
    /// <summary>Time-out of one Bot API call (the long poll adds its own timeout to it).</summary>
    public int RequestTimeoutSeconds { get; set; } = 15;

    public bool Enabled => !string.IsNullOrWhiteSpace(BotToken);
    public bool IsWebhook => string.Equals(Mode, "webhook", StringComparison.OrdinalIgnoreCase);
}

internal sealed partial class TelegramOptionsValidator : IValidateOptions<TelegramOptions>
{
    [GeneratedRegex(@"^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$")]
    private static partial Regex TokenPattern();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,256}$")]
    private static partial Regex SecretPattern();

    public ValidateOptionsResult Validate(string? name, TelegramOptions o)
    {
        if (!o.Enabled) return ValidateOptionsResult.Success;
        var failures = new List<string>();
        if (!TokenPattern().IsMatch(o.BotToken!.Trim())) failures.Add("Telegram:BotToken does not look like a BotFather token (<digits>:<35 characters>).");
        if (!Uri.TryCreate(o.ApiBaseUrl, UriKind.Absolute, out var api) || api.Scheme is not ("https" or "http") || api.AbsolutePath != "/" || !string.IsNullOrEmpty(api.Query))
            failures.Add("Telegram:ApiBaseUrl must be a scheme and host only, such as https://api.telegram.org.");
        if (o.Mode is not ("polling" or "webhook")) failures.Add("Telegram:Mode must be 'polling' or 'webhook'.");
        if (o.IsWebhook)
        {
            if (!Uri.TryCreate(o.WebhookUrl, UriKind.Absolute, out var hook) || hook.Scheme != "https")
                failures.Add("Telegram:WebhookUrl must be an absolute https URL when Telegram:Mode is 'webhook'.");
            if (string.IsNullOrEmpty(o.WebhookSecret) || o.WebhookSecret.Length < 16 || !SecretPattern().IsMatch(o.WebhookSecret))
                failures.Add("Telegram:WebhookSecret must be 16-256 characters of A-Z, a-z, 0-9, '_' and '-' when Telegram:Mode is 'webhook'.");
        }
        if (o.PollTimeoutSeconds is < 0 or > 50) failures.Add("Telegram:PollTimeoutSeconds must be between 0 and 50.");
        if (o.MessagesPerSecond is < 1 or > 30) failures.Add("Telegram:MessagesPerSecond must be between 1 and 30.");
        if (o.MessagesPerChatPerSecond is < 1 or > 5) failures.Add("Telegram:MessagesPerChatPerSecond must be between 1 and 5.");
        if (o.RequestTimeoutSeconds is < 1 or > 120) failures.Add("Telegram:RequestTimeoutSeconds must be between 1 and 120.");
        if (o.AdminIds.Any(id => id <= 0)) failures.Add("Telegram:AdminIds must be positive Telegram user ids.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
