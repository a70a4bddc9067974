using Microsoft.Extensions.Options;

namespace Satsub.Payments.Providers.Lnd;

/// <summary>The macaroon, read once (from the setting or the file) and kept only in memory.</summary>
internal sealed class LndMacaroon(IOptions<LndOptions> options)
{
    public const string HeaderName = "Grpc-Metadata-macaroon";

    private readonly Lazy<string> hex = new(() =>
        !string.IsNullOrWhiteSpace(options.Value.MacaroonHex)
            ? options.Value.MacaroonHex.Trim().ToLowerInvariant()
            : Convert.ToHexStringLower(File.ReadAllBytes(options.Value.MacaroonPath!)));

    public string Hex => hex.Value;
}

/// <summary>Adds the macaroon header to each request (the client that carries it logs nothing).</summary>
internal sealed class LndMacaroonHandler(LndMacaroon macaroon) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Remove(LndMacaroon.HeaderName);
        request.Headers.TryAddWithoutValidation(LndMacaroon.HeaderName, macaroon.Hex);
        return base.SendAsync(request, cancellationToken);
    }
}
