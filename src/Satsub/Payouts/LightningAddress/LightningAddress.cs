using System.Diagnostics.CodeAnalysis;

namespace Satsub.Payouts.LightningAddress;

/// <summary>
/// A Lightning Address (LUD-16): <c>name@domain</c>, resolved through
/// <c>https://domain/.well-known/lnurlp/name</c>. The name is limited to <c>a-z0-9-_.</c> and <c>+</c>
/// (LUD-16 tags, <c>name+tag</c>); the domain is a DNS host name, never an IP literal or a port.
/// Both are kept in lower case, the only case LUD-16 allows: "Alice@Example.com" is read as "alice@example.com".
/// </summary>
public sealed record LightningAddress
{
    public const int MaxNameLength = 64;
    public const int MaxDomainLength = 253;

    private LightningAddress(string name, string domain)
    {
        Name = name;
        Domain = domain;
    }

    /// <summary>The user name, including any <c>+tag</c>.</summary>
    public string Name { get; }

    public string Domain { get; }

    /// <summary>The name without a LUD-16 <c>+tag</c>.</summary>
    public string NameWithoutTag => Name.Split('+', 2)[0];

    /// <summary>Tor hidden services are reached over http through Tor, which Satsub does not do.</summary>
    public bool IsOnion => Domain.EndsWith(".onion", StringComparison.Ordinal);

    /// <summary>The LUD-16 endpoint: <c>https://domain/.well-known/lnurlp/name</c> (a tag stays in, as <c>name+tag</c>).</summary>
    /// <remarks>The name's characters need no escaping in a path, and the domain is a plain host name.</remarks>
    public Uri WellKnownUri => new($"https://{Domain}/.well-known/lnurlp/{Name}", UriKind.Absolute);

    public override string ToString() => $"{Name}@{Domain}";

    public static LightningAddress Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException("Not a Lightning Address (name@domain).");

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out LightningAddress? address)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var value = text.Trim();
        if (value.StartsWith("lightning:", StringComparison.OrdinalIgnoreCase))
            value = value["lightning:".Length..];
        value = value.ToLowerInvariant();

        var at = value.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at != value.LastIndexOf('@'))
            return false;
        var name = value[..at];
        var domain = value[(at + 1)..];
        if (!IsValidName(name) || !IsValidDomain(domain))
            return false;
        address = new LightningAddress(name, domain);
        return true;
    }

    private static bool IsValidName(string name)
    {
        if (name.Length is 0 or > MaxNameLength)
            return false;
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.' or '+'))
                return false;
        }
        // "+tag" needs a name before it, and only one tag separator.
        var plus = name.IndexOf('+', StringComparison.Ordinal);
        return plus != 0 && plus == name.LastIndexOf('+');
    }

    // Letters, digits and hyphens in dot-separated labels of 1 to 63 characters, not starting or ending with a
    // hyphen; at least two labels; the last label not all digits, so no IPv4 literal in any of its spellings.
    private static bool IsValidDomain(string domain)
    {
        if (domain.Length is 0 or > MaxDomainLength)
            return false;
        var labels = domain.Split('.');
        if (labels.Length < 2)
            return false;
        foreach (var label in labels)
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
                    return false;
            }
        }
        var top = labels[^1];
        return !top.All(char.IsAsciiDigit) && !top.StartsWith("0x", StringComparison.Ordinal);
    }
}
