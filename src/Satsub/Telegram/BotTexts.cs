using System.Globalization;
using System.Net;
using System.Resources;

namespace Satsub.Telegram;

/// <summary>Every user-facing string of the bot, from <c>Resources/BotStrings(.ru).resx</c>.</summary>
public static class BotTexts
{
    public const string BaseName = "Satsub.Telegram.Resources.BotStrings";
    public static readonly string[] Languages = ["en", "ru"];
    private static readonly ResourceManager Resources = new(BaseName, typeof(BotTexts).Assembly);

    /// <summary>The bot's language for a Telegram <c>language_code</c> (IETF tag); English unless we speak it.</summary>
    public static string Normalize(string? code)
    {
        if (string.IsNullOrWhiteSpace(code)) return "en";
        var primary = code.Split('-', '_')[0].ToLowerInvariant();
        return Languages.Contains(primary) ? primary : "en";
    }

    public static CultureInfo Culture(string lang) => CultureInfo.GetCultureInfo(Normalize(lang));

    public static string Get(string lang, string key, params object?[] args)
    {
        var text = Resources.GetString(key, Culture(lang)) ?? throw new InvalidOperationException($"Missing bot string '{key}'.");
        return args.Length == 0 ? text : string.Format(CultureInfo.InvariantCulture, text, args);
    }

    public static string Html(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>A time in UTC, written the same way in both languages.</summary>
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
