using System.Security.Cryptography;
using System.Text;

namespace Satsub.Telegram;

/// <summary>
/// The owner's terms, <c>Legal:Terms:&lt;lang&gt;</c>. Their version is <c>Legal:TermsVersion</c> when set, otherwise a
/// hash of the texts, so editing the terms asks everyone to accept them again.
/// </summary>
public sealed class Terms(IConfiguration configuration)
{
    public bool Configured => BotTexts.Languages.Any(l => !string.IsNullOrWhiteSpace(configuration[$"Legal:Terms:{l}"]));

    /// <summary>The terms in the language, else in English, else in any language given.</summary>
    public string? Text(string lang) =>
        new[] { lang, "en" }.Concat(BotTexts.Languages).Select(l => configuration[$"Legal:Terms:{l}"]).FirstOrDefault(t => !string.IsNullOrWhiteSpace(t));

    public string Version
    {
        get
        {
            var configured = configuration["Legal:TermsVersion"];
            if (!string.IsNullOrWhiteSpace(configured)) return configured.Trim().Length <= 64 ? configured.Trim() : configured.Trim()[..64];
            var all = string.Join("\u0000", BotTexts.Languages.Select(l => configuration[$"Legal:Terms:{l}"] ?? ""));
            return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(all)))[..16];
        }
    }

    public bool AcceptedBy(TelegramUser profile) => !Configured || profile.TermsVersion == Version;
}
