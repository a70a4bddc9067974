using Microsoft.Extensions.Options;
using Satsub.Api;

namespace Satsub.Referrals;

/// <summary>
/// A user's referral link: the bot's deep link <c>https://t.me/&lt;bot&gt;?start=&lt;code&gt;</c> when
/// <c>Telegram:BotUsername</c> is set, otherwise <c>&lt;public base URL&gt;/?ref=&lt;code&gt;</c>.
/// </summary>
public sealed class ReferralLinks(IConfiguration configuration, IOptions<ApiOptions> api)
{
    public string For(string referralCode, HttpRequest request)
    {
        var bot = configuration["Telegram:BotUsername"]?.Trim().TrimStart('@');
        if (!string.IsNullOrEmpty(bot)) return $"https://t.me/{Uri.EscapeDataString(bot)}?start={referralCode}";
        var origin = string.IsNullOrWhiteSpace(api.Value.PublicBaseUrl) ? $"{request.Scheme}://{request.Host}" : api.Value.PublicBaseUrl;
        return $"{origin.TrimEnd('/')}/?ref={referralCode}";
    }
}
