using System.Globalization;
using Microsoft.Extensions.Options;

namespace Satsub.Payments.Providers.Lnd;

/// <summary>
/// <c>Payments:Lnd</c>: how to reach an LND node's REST interface. The macaroon is a secret: it travels only in the
/// <c>Grpc-Metadata-macaroon</c> header of a client that logs nothing.
/// </summary>
public sealed class LndOptions
{
    public const string Section = "Payments:Lnd";

    /// <summary>The REST base URL (LND's <c>restlisten</c>, port 8080 by default), e.g. <c>https://lnd.example:8080</c>.</summary>
    public string? Url { get; set; }

    /// <summary>The invoice macaroon as hex (<c>xxd -ps -u -c 1000 invoice.macaroon</c>). Exactly one of this and <see cref="MacaroonPath"/>.</summary>
    public string? MacaroonHex { get; set; }

    /// <summary>A macaroon file (binary, as LND writes it). Exactly one of this and <see cref="MacaroonHex"/>.</summary>
    public string? MacaroonPath { get; set; }

    /// <summary>The node's <c>tls.cert</c> (PEM or DER): the server certificate must be exactly this one.</summary>
    public string? TlsCertPath { get; set; }

    /// <summary>The SHA-256 fingerprint of the node's certificate, hex (colons and spaces allowed).</summary>
    public string? TlsCertThumbprint { get; set; }

    /// <summary>Time-out of one REST call (the invoice subscription stream has none: it is meant to stay open).</summary>
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary>Ask LND to add route hints for private channels to invoices (for nodes with only private channels).</summary>
    public bool PrivateRouteHints { get; set; }

    internal Uri BaseUri => new(Url!.EndsWith('/') ? Url : Url + "/", UriKind.Absolute);

    internal bool IsHttps => BaseUri.Scheme == Uri.UriSchemeHttps;
}

internal sealed class LndOptionsValidator : IValidateOptions<LndOptions>
{
    public ValidateOptionsResult Validate(string? name, LndOptions o)
    {
        var failures = new List<string>();
        Uri? url = null;
        if (string.IsNullOrWhiteSpace(o.Url))
            failures.Add("Payments:Lnd:Url is required when the lnd provider is selected (LND's REST address, e.g. https://127.0.0.1:8080).");
        else if (!Uri.TryCreate(o.Url, UriKind.Absolute, out url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            failures.Add("Payments:Lnd:Url must be an absolute http(s) URL.");
        else if (!string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(url.Query))
            failures.Add("Payments:Lnd:Url must not carry credentials or a query: put the macaroon in Payments:Lnd:MacaroonHex or Payments:Lnd:MacaroonPath.");
        else if (url.Scheme == Uri.UriSchemeHttp && !url.IsLoopback)
            failures.Add("Payments:Lnd:Url must use https: plain http is allowed only on loopback (127.0.0.1, localhost, [::1]).");

        var hasHex = !string.IsNullOrWhiteSpace(o.MacaroonHex);
        var hasPath = !string.IsNullOrWhiteSpace(o.MacaroonPath);
        if (hasHex == hasPath)
            failures.Add("Payments:Lnd:MacaroonHex or Payments:Lnd:MacaroonPath is required when the lnd provider is selected: set exactly one (an invoice macaroon).");
        else if (hasHex && !IsHex(o.MacaroonHex!.Trim()))
            failures.Add("Payments:Lnd:MacaroonHex must be the macaroon in hexadecimal.");
        else if (hasPath && !File.Exists(o.MacaroonPath))
            failures.Add($"Payments:Lnd:MacaroonPath: the file '{o.MacaroonPath}' does not exist or cannot be read.");

        var hasCert = !string.IsNullOrWhiteSpace(o.TlsCertPath);
        var hasThumbprint = !string.IsNullOrWhiteSpace(o.TlsCertThumbprint);
        if (hasCert && hasThumbprint)
            failures.Add("Payments:Lnd:TlsCertPath and Payments:Lnd:TlsCertThumbprint are exclusive: set one of them.");
        else if (url is not null && url.Scheme == Uri.UriSchemeHttps && !hasCert && !hasThumbprint)
            failures.Add("Payments:Lnd:TlsCertPath or Payments:Lnd:TlsCertThumbprint is required for an https Url: LND's certificate is self-signed, so Satsub pins it.");
        else if (url is not null && url.Scheme == Uri.UriSchemeHttp && (hasCert || hasThumbprint))
            failures.Add("Payments:Lnd:TlsCertPath/TlsCertThumbprint have no effect over plain http: use an https Url or remove them.");
        else if (hasThumbprint && LndTls.ParseThumbprint(o.TlsCertThumbprint!) is null)
            failures.Add("Payments:Lnd:TlsCertThumbprint must be the certificate's SHA-256 fingerprint: 64 hex digits (colons allowed).");
        else if (hasCert && LndTls.TryLoadCertificateHash(o.TlsCertPath!) is null)
            failures.Add($"Payments:Lnd:TlsCertPath: '{o.TlsCertPath}' is not a readable certificate file (PEM or DER).");

        if (o.TimeoutSeconds is < 1 or > 300)
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"Payments:Lnd:TimeoutSeconds must be between 1 and 300 (was {o.TimeoutSeconds})."));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsHex(string s) => s.Length > 0 && s.Length % 2 == 0 && s.All(Uri.IsHexDigit);
}
