using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Satsub.Integrations.Webhooks;

/// <summary>The event types an endpoint may subscribe to (docs/webhooks.md describes each payload).</summary>
public static class WebhookEvents
{
    public static readonly IReadOnlyList<string> All =
    [
        "user.registered",
        "subscription.activated",
        "subscription.renewed",
        "subscription.expired",
        "payment.settled",
        "commission.earned",
        "commission.available",
        "payout.sent",
        "payout.failed",
    ];

    public static bool IsKnown(string type) => All.Contains(type, StringComparer.Ordinal);
}

/// <summary>
/// <c>Satsub-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256(secret, "&lt;t&gt;.&lt;raw body&gt;")&gt;</c>, as Stripe signs:
/// the timestamp inside the MAC lets receivers refuse replays of old deliveries.
/// </summary>
public static class WebhookSignature
{
    public const string Header = "Satsub-Signature";

    public static string Create(string secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        var t = unixSeconds.ToString(CultureInfo.InvariantCulture);
        var prefix = Encoding.UTF8.GetBytes(t + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        return $"t={t},v1={Convert.ToHexStringLower(mac)}";
    }

    /// <summary>A new signing secret: <c>whsec_</c> and 32 random bytes in hex.</summary>
    public static string NewSecret() => "whsec_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
}
