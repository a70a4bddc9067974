using Satsub.Common;

namespace Satsub.Payouts.LightningAddress;

/// <summary>
/// A Lightning Address could not give us an invoice we may pay. <see cref="DomainException.Code"/> is stable
/// (see <see cref="LnurlPayErrors"/>); the message is safe to show: it never holds a URL's credentials, and text
/// from the remote service is trimmed and stripped of control characters.
/// </summary>
public sealed class LnurlPayException(string code, string message) : DomainException(code, message, 422)
{
    /// <summary>The service's own words for an LUD-06 <c>{"status":"ERROR"}</c> answer, sanitized; otherwise null.</summary>
    public string? RemoteReason { get; init; }
}

/// <summary>The codes of <see cref="LnurlPayException"/>.</summary>
public static class LnurlPayErrors
{
    /// <summary>DNS, connection, TLS or HTTP failure, or a redirect (never followed).</summary>
    public const string Unreachable = "lnurl_unreachable";

    /// <summary>No answer within <c>Payouts:LightningAddress:TimeoutSeconds</c>.</summary>
    public const string Timeout = "lnurl_timeout";

    /// <summary>The service, or the callback it named, resolves to a private, loopback or link-local address.</summary>
    public const string SsrfBlocked = "ssrf_blocked";

    /// <summary>The service answered <c>{"status":"ERROR","reason":...}</c>.</summary>
    public const string ServiceError = "lnurl_error";

    /// <summary>Not LUD-06: malformed or oversized JSON, wrong tag, bad amounts or metadata.</summary>
    public const string InvalidResponse = "lnurl_invalid_response";

    /// <summary>The metadata's <c>text/identifier</c> or <c>text/email</c> is not the address we asked for (LUD-16).</summary>
    public const string IdentifierMismatch = "lnurl_identifier_mismatch";

    /// <summary>The callback is not an https URL.</summary>
    public const string InsecureCallback = "lnurl_insecure_callback";

    /// <summary>A .onion address: it needs Tor, which Satsub does not use.</summary>
    public const string OnionUnsupported = "lnurl_onion_unsupported";

    /// <summary>The amount is outside the service's <c>minSendable</c>..<c>maxSendable</c>.</summary>
    public const string AmountOutOfRange = "amount_out_of_range";

    /// <summary>The <c>pr</c> is not a valid BOLT #11 invoice.</summary>
    public const string InvoiceInvalid = "invoice_invalid";

    /// <summary>The invoice is for another network than <c>Bitcoin:Network</c>.</summary>
    public const string InvoiceNetworkMismatch = "invoice_network_mismatch";

    /// <summary>The invoice has no amount, or not exactly the amount requested.</summary>
    public const string InvoiceAmountMismatch = "invoice_amount_mismatch";

    /// <summary>The invoice's description hash (h) is not SHA-256 of the metadata (LUD-06).</summary>
    public const string DescriptionHashMismatch = "description_hash_mismatch";

    /// <summary>The invoice has already expired.</summary>
    public const string InvoiceExpired = "invoice_expired";
}
