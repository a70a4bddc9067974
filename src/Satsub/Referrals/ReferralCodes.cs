using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Satsub.Referrals;

/// <summary>
/// Referral codes: short, unguessable (10 symbols of a 32-letter alphabet, 50 random bits) and safe in a
/// Telegram deep link (<c>t.me/&lt;bot&gt;?start=&lt;code&gt;</c> allows A-Z, a-z, 0-9, '_' and '-').
/// </summary>
public static partial class ReferralCodes
{
    // Lower-case Crockford base32: no i, l, o, u, so codes read aloud or typed are hard to confuse.
    private const string Alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
    public const int Length = 10;

    public static string New() => RandomNumberGenerator.GetString(Alphabet, Length);

    [GeneratedRegex("^[0-9a-z]{10}$")]
    private static partial Regex Shape();

    public static bool LooksLikeCode(string? text) => text is not null && Shape().IsMatch(text);
}
