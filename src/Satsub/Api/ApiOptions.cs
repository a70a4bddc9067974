using Microsoft.Extensions.Options;

namespace Satsub.Api;

/// <summary><c>Api</c>: limits of the REST API.</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>
    /// How long an instance trusts an API key it found live without reading its row again (0: never). A key revoked on
    /// another instance is still accepted here for at most this long (docs/security.md).
    /// </summary>
    public int KeyCacheSeconds { get; set; } = 10;

    /// <summary>
    /// The public address of this server (e.g. <c>https://subs.example.com</c>), used in referral links when
    /// no Telegram bot is configured. Empty: the address the request came to.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    public sealed class RateLimitOptions
    {
        /// <summary>Requests per second each API key may make (anonymous callers: per IP address).</summary>
        public int PermitsPerSecond { get; set; } = 100;
    }
}

internal sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiOptions o)
    {
        var failures = new List<string>();
        if (o.RateLimit.PermitsPerSecond is < 1 or > 1_000_000)
            failures.Add($"Api:RateLimit:PermitsPerSecond must be between 1 and 1000000 (was {o.RateLimit.PermitsPerSecond}).");
        if (o.KeyCacheSeconds is < 0 or > 300)
            failures.Add($"Api:KeyCacheSeconds must be between 0 and 300 (was {o.KeyCacheSeconds}).");
        if (!string.IsNullOrWhiteSpace(o.PublicBaseUrl)
            && (!Uri.TryCreate(o.PublicBaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            failures.Add($"Api:PublicBaseUrl must be an absolute http(s) URL (was '{o.PublicBaseUrl}').");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
