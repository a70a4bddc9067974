using System.Security.Cryptography;
using System.Text;

namespace Satsub.Affiliates.Rating;

/// <summary>
/// Stable public names derived from a user id, for people who chose no display name. A hash, not the id itself:
/// version-7 ids begin with their creation time, and the id is what the API uses to address the user.
/// Buyers and affiliates get different pseudonyms, so a leaderboard name cannot be matched to a buyer in a
/// commission history.
/// </summary>
public static class Pseudonyms
{
    public static string Affiliate(Guid userId) => "Affiliate " + Hash("affiliate", userId);

    public static string Buyer(Guid userId) => "Customer " + Hash("buyer", userId);

    /// <summary>True for text that looks like an affiliate pseudonym: nobody may choose one as a display name.</summary>
    public static bool LooksLikePseudonym(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, "^(affiliate|customer)\\s+[0-9a-f]{6}$",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static string Hash(string purpose, Guid id)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.ASCII.GetBytes($"satsub:{purpose}:{id:D}"), hash);
        return Convert.ToHexString(hash[..3]);
    }
}
