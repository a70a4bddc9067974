using Microsoft.EntityFrameworkCore;
using Satsub.ApiKeys;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.ApiKeys;

/// <summary>
/// The API key cache (<see cref="ApiKeyCache"/>): a key found live is trusted for Api:KeyCacheSeconds, the hash is still
/// checked, a revocation through this instance is immediate, one made elsewhere (a direct update, as another instance
/// or the CLI would make) lasts at most the TTL, and nothing that failed is cached.
/// </summary>
public sealed class ApiKeyCacheTests
{
    private static Task<SatsubServices> StartAsync(int seconds) =>
        SatsubServices.StartAsync(DbKind.Sqlite, new Dictionary<string, string?> { ["Api:KeyCacheSeconds"] = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) });

    private static Task<ApiKey?> AuthenticateAsync(SatsubServices app, string? key) =>
        app.WithAsync<ApiKeyService, ApiKey?>(k => k.AuthenticateAsync(key, default));

    /// <summary>Revokes the key behind this instance's back: what another instance or <c>satsub apikey revoke</c> does.</summary>
    private static Task<int> RevokeElsewhereAsync(SatsubServices app, Guid id) =>
        app.DbAsync(db => db.ApiKeys.Where(k => k.Id == id).ExecuteUpdateAsync(u => u.SetProperty(k => k.RevokedAt, DateTimeOffset.UnixEpoch)));

    [Fact]
    public async Task AKeyRevokedElsewhere_IsAcceptedUntilItsEntryExpires_ThenRefused()
    {
        await using var app = await StartAsync(10);
        var (key, plaintext) = await app.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("site", "website", default));
        Assert.Equal(key.Id, (await AuthenticateAsync(app, plaintext))?.Id);
        Assert.Equal(1, await RevokeElsewhereAsync(app, key.Id));

        app.Clock.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(key.Id, (await AuthenticateAsync(app, plaintext))?.Id);
        app.Clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Null(await AuthenticateAsync(app, plaintext));
        // Refused answers are not cached, and the revoked key is not brought back later.
        app.Clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(await AuthenticateAsync(app, plaintext));
    }

    [Fact]
    public async Task AKeyRevokedThroughThisInstance_IsRefusedAtOnce()
    {
        await using var app = await StartAsync(10);
        var (key, plaintext) = await app.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("site", "website", default));
        Assert.NotNull(await AuthenticateAsync(app, plaintext));
        Assert.True(await app.WithAsync<ApiKeyService, bool>(k => k.RevokeAsync(key.Id, default)));
        Assert.Null(await AuthenticateAsync(app, plaintext));
    }

    [Fact]
    public async Task ACachedPrefix_WithAnotherSecret_IsRefused()
    {
        await using var app = await StartAsync(10);
        var (_, plaintext) = await app.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("site", "website", default));
        Assert.NotNull(await AuthenticateAsync(app, plaintext));
        var forged = plaintext[..^1] + (plaintext[^1] == 'a' ? 'b' : 'a');
        Assert.Null(await AuthenticateAsync(app, forged));
        Assert.NotNull(await AuthenticateAsync(app, plaintext));
    }

    [Fact]
    public async Task AFailedLookup_IsNotCached_SoAKeyWorksAsSoonAsItExists()
    {
        await using var app = await StartAsync(10);
        var (key, plaintext) = await app.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("site", "website", default));
        // The key's row disappears and comes back (a restore, or another instance creating it): no negative entry
        // kept it out meanwhile.
        var row = await app.DbAsync(db => db.ApiKeys.AsNoTracking().SingleAsync(k => k.Id == key.Id));
        await app.DbAsync(db => db.ApiKeys.Where(k => k.Id == key.Id).ExecuteDeleteAsync());
        Assert.Null(await AuthenticateAsync(app, plaintext));
        await app.DbAsync(async db => { db.ApiKeys.Add(row); return await db.SaveChangesAsync(); });
        Assert.Equal(key.Id, (await AuthenticateAsync(app, plaintext))?.Id);
    }

    [Fact]
    public async Task WithTheCacheOff_ARevocationElsewhere_IsImmediate()
    {
        await using var app = await StartAsync(0);
        var (key, plaintext) = await app.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("site", "website", default));
        Assert.NotNull(await AuthenticateAsync(app, plaintext));
        await RevokeElsewhereAsync(app, key.Id);
        Assert.Null(await AuthenticateAsync(app, plaintext));
    }

    [Fact]
    public async Task KeyCacheSeconds_OutOfRange_IsRefusedAtStart()
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync(301));
        Assert.Contains("Api:KeyCacheSeconds", ex.ToString(), StringComparison.Ordinal);
    }
}
