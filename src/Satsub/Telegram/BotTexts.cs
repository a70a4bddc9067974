using System.Globalization;
using System.Net;
using System.Resources;

namespace Satsub.Telegram;

/// <summary>
/// Every user-facing string of the bot: English in <c>Resources/BotStrings.resx</c>, Russian in
/// <c>Resources/BotStringsRu.resx</c>. One neutral resource per language rather than satellite assemblies: the
/// application runs with invariant globalization, where cultures such as "ru" cannot be created.
/// </summary>
public static class BotTexts
{
    public static readonly string[] Languages = ["en", "ru"];
    private static readonly ResourceManager English = new("Satsub.Telegram.Resources.BotStrings", typeof(BotTexts).Assembly);
    private static readonly ResourceManager Russian = new("Satsub.Telegram.Resources.BotStringsRu", typeof(BotTexts).Assembly);

    /// <summary>The bot's language for a Telegram <c>language_code</c> (IETF tag); English unless we speak it.</summary>
    public static string Normalize(string? code)
    {
        if (string.IsNullOrWhiteSpace(code)) return "en";
        var primary = code.Split('-', '_')[0].ToLowerInvariant();
        return Languages.Contains(primary) ? primary : "en";
    }

    public static string Get(string lang, string key, params object?[] args)
    {
        var resources = Normalize(lang) == "ru" ? Russian : English;
        var text = resources.GetString(key, CultureInfo.InvariantCulture) ?? throw new InvalidOperationException($"Missing bot string '{key}'.");
        return args.Length == 0 ? text : string.Format(CultureInfo.InvariantCulture, text, args);
    }

    public static string Html(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>A time in UTC, written the same way in both languages.</summary>
    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
