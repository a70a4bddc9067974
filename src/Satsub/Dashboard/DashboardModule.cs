using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Admin;
using Satsub.Api;
using Satsub.ApiKeys;
using Satsub.Common;
using Satsub.Data;
using Satsub.Payouts;
using Satsub.Transparency;

namespace Satsub.Dashboard;

/// <summary>
/// The owner's dashboard at <c>/admin</c>: sign-in with an admin API key, then a session in a secure, http-only, SameSite=Strict
/// cookie (ASP.NET Core cookie authentication, data-protected); every form carries an antiforgery token; failed sign-ins are
/// audited and limited per client address. The cookie is accepted only by these pages, never by the REST API.
/// </summary>
public static class DashboardModule
{
    public const string Scheme = "SatsubDashboard";
    public const string Policy = "dashboard";
    public const string CookieName = "__Host-satsub-admin";
    private const string CsrfField = "__csrf";

    public static IHostApplicationBuilder AddDashboard(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DashboardOptions>, DashboardOptionsValidator>();
        services.AddSingleton<SignInThrottle>();
        services.AddScoped<DashboardData>();
        services.AddAuthentication().AddCookie(Scheme, o =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SecurePolicy = CookieSecurePolicy.Always;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.Path = "/";
            o.LoginPath = "/admin/login";
            o.AccessDeniedPath = "/admin/login";
            o.SlidingExpiration = true;
            o.Events.OnValidatePrincipal = ValidateKeyStillLiveAsync;
        });
        services.AddOptions<CookieAuthenticationOptions>(Scheme).Configure<IOptions<DashboardOptions>>((o, d) => o.ExpireTimeSpan = TimeSpan.FromHours(d.Value.SessionHours));
        services.AddAuthorizationBuilder().AddPolicy(Policy, p => p.AddAuthenticationSchemes(Scheme).RequireAuthenticatedUser()
            .RequireClaim(ApiCaller.ScopeClaim, ApiKeyService.AdminScope));
        services.AddAntiforgery(o =>
        {
            // Not "Always": antiforgery then refuses every plain-HTTP request, and a TLS-terminating proxy makes them all plain HTTP here.
            // The token is worthless without the session cookie, which is always Secure.
            o.Cookie.Name = "satsub-csrf";
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.FormFieldName = CsrfField;
        });
        return builder;
    }

    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.MapGet("/admin/login", (HttpContext http, IAntiforgery csrf) => LoginPage(http, csrf, null, 200)).ExcludeFromDescription();
        app.MapPost("/admin/login", SignInAsync).ExcludeFromDescription().DisableAntiforgery();
        var admin = app.MapGroup("/admin").RequireAuthorization(Policy).ExcludeFromDescription();
        admin.MapGet("", PageAsync);
        admin.MapPost("/logout", SignOutAsync).DisableAntiforgery();
        admin.MapPost("/payouts/{id}/approve", ApproveAsync).DisableAntiforgery();
        admin.MapPost("/payouts/{id}/reject", RejectAsync).DisableAntiforgery();
        return app;
    }

    private static string Client(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private static IResult LoginPage(HttpContext http, IAntiforgery csrf, string? error, int status)
    {
        var token = csrf.GetAndStoreTokens(http);
        var body = "<header><h1>Satsub admin</h1></header><main><section><h2>Sign in</h2>" +
            (error is null ? "" : $"<p class=\"error\" id=\"sign-in-error\" role=\"alert\">{WebPages.H(error)}</p>") +
            "<form method=\"post\" action=\"/admin/login\" id=\"sign-in\">" +
            $"<input type=\"hidden\" name=\"{CsrfField}\" value=\"{WebPages.H(token.RequestToken)}\">" +
            "<p><label for=\"key\">Admin API key</label><br><input type=\"password\" id=\"key\" name=\"key\" autocomplete=\"off\" required></p>" +
            "<p><button type=\"submit\">Sign in</button></p></form>" +
            "<p class=\"muted\">Create one with <code>satsub apikey create --name owner --scopes admin</code>.</p></section></main>";
        http.Response.Headers.CacheControl = "no-store";
        return WebPages.Page(http, "Sign in · Satsub admin", body, status);
    }

    private static async Task<bool> CsrfValidAsync(HttpContext http, IAntiforgery csrf)
    {
        try
        {
            await csrf.ValidateRequestAsync(http);
            return true;
        }
        catch (AntiforgeryValidationException)
        {
            return false;
        }
    }

    private static async Task<IResult> SignInAsync(HttpContext http, IAntiforgery csrf, SignInThrottle throttle, ApiKeyService keys, AuditLog audit,
        ILoggerFactory loggers)
    {
        var client = Client(http);
        if (throttle.RetryAfter(client) is { } wait)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            loggers.CreateLogger("Satsub.Dashboard").LogWarning("Dashboard sign-in from {Client} refused: too many failed attempts", client);
            return LoginPage(http, csrf, $"Too many failed sign-ins: try again in {seconds} seconds.", StatusCodes.Status429TooManyRequests);
        }
        if (!http.Request.HasFormContentType) return LoginPage(http, csrf, "Send the sign-in form.", StatusCodes.Status400BadRequest);
        if (!await CsrfValidAsync(http, csrf)) return LoginPage(http, csrf, "The form expired: please sign in again.", StatusCodes.Status400BadRequest);

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var presented = form["key"].ToString().Trim();
        var key = presented.Length is > 0 and <= 200 ? await keys.AuthenticateAsync(presented, http.RequestAborted) : null;
        var isAdmin = key is not null && key.ScopeList.Contains(ApiKeyService.AdminScope, StringComparer.Ordinal);
        if (!isAdmin)
        {
            throttle.RecordFailure(client);
            // The presented text is never recorded: it may be a real key with a typo.
            await audit.RecordAsync(http, "dashboard.sign_in_failed", null, key is null ? "unknown, revoked or malformed key" : $"key {key.Id:D} is not an admin key");
            return LoginPage(http, csrf, "That is not a valid admin API key.", StatusCodes.Status401Unauthorized);
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim(ApiCaller.KeyIdClaim, key!.Id.ToString("D")),
            new Claim(ClaimTypes.Name, key.Name),
            new Claim(ApiCaller.ScopeClaim, ApiKeyService.AdminScope),
        ], Scheme));
        await http.SignInAsync(Scheme, principal, new AuthenticationProperties { IsPersistent = false });
        http.User = principal;
        await audit.RecordAsync(http, "dashboard.sign_in", key.Id.ToString("D"));
        return Results.Redirect("/admin", permanent: false, preserveMethod: false);
    }

    private static async Task<IResult> SignOutAsync(HttpContext http, IAntiforgery csrf)
    {
        if (!await CsrfValidAsync(http, csrf)) return Results.BadRequest();
        await http.SignOutAsync(Scheme);
        return Results.Redirect("/admin/login");
    }

    private static async Task<IResult> ApproveAsync(string id, HttpContext http, IAntiforgery csrf, PayoutService payouts, AuditLog audit, CancellationToken ct)
    {
        if (!await CsrfValidAsync(http, csrf)) return Results.BadRequest();
        if (!Guid.TryParse(id, out var payoutId)) return Results.Redirect("/admin?error=payout_not_found#payouts");
        try
        {
            var payout = await payouts.ApproveAsync(payoutId, ct);
            await audit.RecordAsync(http, "payout.approve", payout.Id.ToString("D"), "dashboard");
            return Results.Redirect("/admin?done=approved#payouts");
        }
        catch (DomainException e)
        {
            return Results.Redirect($"/admin?error={Uri.EscapeDataString(e.Code)}#payouts");
        }
    }

    private static async Task<IResult> RejectAsync(string id, HttpContext http, IAntiforgery csrf, PayoutService payouts, AuditLog audit, CancellationToken ct)
    {
        if (!await CsrfValidAsync(http, csrf)) return Results.BadRequest();
        if (!Guid.TryParse(id, out var payoutId)) return Results.Redirect("/admin?error=payout_not_found#payouts");
        var form = await http.Request.ReadFormAsync(ct);
        var reason = form["reason"].ToString().Trim();
        reason = reason.Length == 0 ? "rejected by the admin" : reason[..Math.Min(reason.Length, 500)];
        try
        {
            var payout = await payouts.RejectAsync(payoutId, reason, ct);
            await audit.RecordAsync(http, "payout.reject", payout.Id.ToString("D"), reason);
            return Results.Redirect("/admin?done=rejected#payouts");
        }
        catch (DomainException e)
        {
            return Results.Redirect($"/admin?error={Uri.EscapeDataString(e.Code)}#payouts");
        }
    }

    private static async Task<IResult> PageAsync(HttpContext http, IAntiforgery csrf, DashboardData data, string? done, string? error, CancellationToken ct)
    {
        var view = await data.GetAsync(ct);
        var token = csrf.GetAndStoreTokens(http).RequestToken!;
        http.Response.Headers.CacheControl = "no-store";
        var name = http.User.FindFirstValue(ClaimTypes.Name) ?? "admin";
        return WebPages.Page(http, "Satsub admin", DashboardPage.Render(view, name, token, CsrfField, done, error), charts: true);
    }

    /// <summary>A revoked key ends its dashboard sessions at the next request.</summary>
    private static async Task ValidateKeyStillLiveAsync(CookieValidatePrincipalContext context)
    {
        if (!Guid.TryParse(context.Principal?.FindFirstValue(ApiCaller.KeyIdClaim), out var keyId))
        {
            context.RejectPrincipal();
            return;
        }
        var db = context.HttpContext.RequestServices.GetRequiredService<SatsubDbContext>();
        var key = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Id == keyId && k.RevokedAt == null, context.HttpContext.RequestAborted);
        if (key is null || !key.ScopeList.Contains(ApiKeyService.AdminScope, StringComparer.Ordinal))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        }
    }
}
