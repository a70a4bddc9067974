using System.Net;

namespace Satsub.Payments;

/// <summary>Provider and rate URLs must be https, except plain http on loopback (a local node, a test server).</summary>
public static class ProviderUrls
{
    public static bool IsAllowed(Uri uri) =>
        uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && IsLoopback(uri)));

    public static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
