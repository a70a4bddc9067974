using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Satsub.ApiKeys;

namespace Satsub.Api;

/// <summary>
/// <c>Authorization: Bearer sk_…</c>. Unknown, revoked and malformed keys all fail alike (one 401), so the
/// answer never tells which part was wrong.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyService keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header)) return AuthenticateResult.NoResult();
        const string bearer = "Bearer ";
        if (!header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.Fail("Not a bearer token.");
        var key = await keys.AuthenticateAsync(header[bearer.Length..].Trim(), Context.RequestAborted);
        if (key is null) return AuthenticateResult.Fail("Unknown API key.");

        var claims = new List<Claim> { new(ApiCaller.KeyIdClaim, key.Id.ToString("D")), new(ClaimTypes.Name, key.Name) };
        claims.AddRange(key.ScopeList.Select(s => new Claim(ApiCaller.ScopeClaim, s)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        return ApiProblems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "unauthorized",
            "A valid API key is required: send 'Authorization: Bearer <key>'.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ApiProblems.WriteAsync(Context, StatusCodes.Status403Forbidden, "forbidden", "This API key's scopes do not allow this request.");
}

/// <summary>Who is calling: an API key with its scopes (<c>admin</c>, or platform names).</summary>
public static class ApiCaller
{
    public const string KeyIdClaim = "satsub_key_id";
    public const string ScopeClaim = "satsub_scope";
    public const string AdminPolicy = "admin";
    public const string KeyPolicy = "api_key";

    public static Guid? KeyId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(KeyIdClaim), out var id) ? id : null;

    public static bool IsAdmin(this ClaimsPrincipal user) => user.HasClaim(ScopeClaim, ApiKeyService.AdminScope);

    /// <summary>An admin key sees every platform; a platform key only its own (another platform's users are 404).</summary>
    public static bool CanAccess(this ClaimsPrincipal user, string platform) => user.IsAdmin() || user.HasClaim(ScopeClaim, platform);
}
