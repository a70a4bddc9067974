using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Satsub.Dashboard;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Transparency;

namespace Satsub.Tests.Dashboard;

/// <summary>
/// The sign-in over plain HTTP, with cookies handled by hand (an HTTP client keeps Secure cookies off plain HTTP, a browser on
/// loopback does not): the CSRF token is required, failures are limited per address and audited, and the session is Secure,
/// HttpOnly and SameSite=Strict.
/// </summary>
public sealed partial class DashboardSignInTests(ReportApiFactory app) : IClassFixture<ReportApiFactory>
{
    private sealed class Session(HttpClient client)
    {
        private readonly Dictionary<string, string> cookies = new(StringComparer.Ordinal);

        public List<string> SetCookies { get; } = [];

        public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, Dictionary<string, string>? form = null)
        {
            using var request = new HttpRequestMessage(method, path);
            if (cookies.Count > 0) request.Headers.Add("Cookie", string.Join("; ", cookies.Select(c => $"{c.Key}={c.Value}")));
            if (form is not null) request.Content = new FormUrlEncodedContent(form);
            var response = await client.SendAsync(request);
            if (response.Headers.TryGetValues("Set-Cookie", out var set))
            {
                foreach (var header in set)
                {
                    SetCookies.Add(header);
                    var pair = header.Split(';')[0];
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    var (name, value) = (pair[..eq], pair[(eq + 1)..]);
                    if (value.Length == 0 || header.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase)) cookies.Remove(name);
                    else cookies[name] = value;
                }
            }
            return response;
        }

        public async Task<string> TokenAsync(string path = "/admin/login")
        {
            var html = await (await SendAsync(HttpMethod.Get, path)).Content.ReadAsStringAsync();
            return Csrf().Match(html).Groups[1].Value;
        }

        public async Task<HttpResponseMessage> SignInAsync(string key) =>
            await SendAsync(HttpMethod.Post, "/admin/login", new() { ["__csrf"] = await TokenAsync(), ["key"] = key });
    }

    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex Csrf();

    private Session NewSession() => new(app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false }));

    [Fact]
    public async Task SignIn_SetsASecureHttpOnlyStrictCookie_AndTheCookieDoesNotOpenTheApi()
    {
        var session = NewSession();
        var response = await session.SignInAsync(app.AdminKey);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/admin", response.Headers.Location?.ToString());
        var cookie = session.SetCookies.Single(c => c.StartsWith(DashboardModule.CookieName + "=", StringComparison.Ordinal));
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);

        var page = await session.SendAsync(HttpMethod.Get, "/admin");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Key figures", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // The REST API takes API keys only: a session cookie is no credential there.
        Assert.Equal(HttpStatusCode.Unauthorized, (await session.SendAsync(HttpMethod.Get, "/api/v1/admin/stats")).StatusCode);
    }

    [Fact]
    public async Task Forms_WithoutTheCsrfToken_AreRefused()
    {
        var session = NewSession();
        await session.TokenAsync();
        var noToken = await session.SendAsync(HttpMethod.Post, "/admin/login", new() { ["key"] = app.AdminKey });
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        Assert.DoesNotContain(session.SetCookies, c => c.StartsWith(DashboardModule.CookieName + "=", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Redirect, (await session.SignInAsync(app.AdminKey)).StatusCode);
        var approve = await session.SendAsync(HttpMethod.Post, $"/admin/payouts/{Guid.NewGuid()}/approve", new() { ["x"] = "1" });
        Assert.Equal(HttpStatusCode.BadRequest, approve.StatusCode);
        var forged = await session.SendAsync(HttpMethod.Post, $"/admin/payouts/{Guid.NewGuid()}/approve", new() { ["__csrf"] = "forged" });
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
    }

    [Fact]
    public async Task WithoutASession_TheDashboardRedirectsToSignIn()
    {
        var response = await NewSession().SendAsync(HttpMethod.Get, "/admin");
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/admin/login", response.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
        var post = await NewSession().SendAsync(HttpMethod.Post, $"/admin/payouts/{Guid.NewGuid()}/approve", new() { ["__csrf"] = "x" });
        Assert.Equal(HttpStatusCode.Redirect, post.StatusCode);
    }

    /// <summary>The failure limit here is 2 per 15 minutes (ReportApiFactory); the test runs from its own client address.</summary>
    [Fact]
    public async Task FailedSignIns_AreAuditedAndLimited_EvenForTheRightKeyAfterwards()
    {
        var throttle = new SignInThrottle(app.Clock, Options.Create(new DashboardOptions { MaxFailedSignIns = 2, SignInWindowMinutes = 15 }));
        Assert.Null(throttle.RetryAfter("198.51.100.7"));
        throttle.RecordFailure("198.51.100.7");
        throttle.RecordFailure("198.51.100.7");
        Assert.Equal(TimeSpan.FromMinutes(15), throttle.RetryAfter("198.51.100.7"));
        Assert.Null(throttle.RetryAfter("198.51.100.8"));
        app.Clock.Advance(TimeSpan.FromMinutes(15));
        Assert.Null(throttle.RetryAfter("198.51.100.7"));

        // Through HTTP: the in-memory test server's clients share one address, so this test owns the limit.
        var before = await app.DbAsync(db => db.AuditEntries.CountAsync(a => a.Action == "dashboard.sign_in_failed"));
        var session = NewSession();
        Assert.Equal(HttpStatusCode.Unauthorized, (await session.SignInAsync("sk_wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await session.SignInAsync(await app.CreateKeyAsync("website"))).StatusCode);
        var limited = await session.SignInAsync(app.AdminKey);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(before + 2, await app.DbAsync(db => db.AuditEntries.CountAsync(a => a.Action == "dashboard.sign_in_failed")));

        app.Clock.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(HttpStatusCode.Redirect, (await session.SignInAsync(app.AdminKey)).StatusCode);
    }
}
