using System.Net;

namespace Satsub.Payments;

/// <summary>Provider and rate URLs must be https, except plain http on loopback (a local node, a test server).</summary>
public static class ProviderUrls
{
    public static bool IsAllowed(Uri uri) =>
        uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && IsLoopback(uri)));

    /// <summary>
    /// Checks a provider URL setting: present, absolute, https (http only on loopback), no user info, query or
    /// fragment, and — for an API base URL — the server's root (<paramref name="rootExample"/> names good values).
    /// </summary>
    public static void Check(List<string> failures, string key, string? value, string provider, string? rootExample = null)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            failures.Add($"{key} is required when the {provider} provider is selected.");
            return;
        }
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            failures.Add($"{key} must be an absolute https URL (was '{value}').");
        else if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
            failures.Add($"{key} must use https; plain http is allowed only on loopback (127.0.0.1, localhost, [::1]).");
        else if (!string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
            failures.Add($"{key} must carry no user info, query or fragment.");
        else if (rootExample is not null && uri.AbsolutePath != "/")
            failures.Add($"{key} must be {rootExample} (was '{value}').");
    }

    public static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
