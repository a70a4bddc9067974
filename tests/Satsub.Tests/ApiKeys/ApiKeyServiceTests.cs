using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Satsub.ApiKeys;
using Satsub.Common;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.ApiKeys;

public sealed class ApiKeyServiceTests(PostgresFixture fx) : IClassFixture<PostgresFixture>
{
    private Task<T> Keys<T>(Func<ApiKeyService, Task<T>> f) => fx.App.WithAsync(f);

    [Fact]
    public async Task Create_ReturnsAKeyOnceAndStoresOnlyItsHash()
    {
        var (key, plaintext) = await Keys(k => k.CreateAsync("website", "website", default));
        Assert.Matches("^sk_[0-9A-Za-z]{40}$", plaintext);
        var stored = await fx.App.DbAsync(db => db.ApiKeys.SingleAsync(k => k.Id == key.Id));
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(plaintext)), stored.Hash);
        Assert.DoesNotContain(plaintext[3..], stored.Prefix + stored.Name + stored.Scopes, StringComparison.Ordinal);
        Assert.Equal(key.Id, (await Keys(k => k.AuthenticateAsync(plaintext, default)))?.Id);
    }

    [Fact]
    public async Task Authenticate_RevokedUnknownAndMalformedKeys_AllFail()
    {
        var (key, plaintext) = await Keys(k => k.CreateAsync("old", "admin", default));
        Assert.True(await Keys(k => k.RevokeAsync(key.Id, default)));

        Assert.Null(await Keys(k => k.AuthenticateAsync(plaintext, default)));
        Assert.Null(await Keys(k => k.AuthenticateAsync(plaintext[..^1] + (plaintext[^1] == 'a' ? 'b' : 'a'), default)));
        Assert.Null(await Keys(k => k.AuthenticateAsync("sk_" + new string('A', 40), default)));
        Assert.Null(await Keys(k => k.AuthenticateAsync("not a key", default)));
        Assert.Null(await Keys(k => k.AuthenticateAsync(null, default)));
        Assert.False(await Keys(k => k.RevokeAsync(Guid.NewGuid(), default)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Admin!")]
    [InlineData("web,si te!")]
    public async Task Create_WithBadScopes_IsRefused(string scopes)
    {
        var ex = await Assert.ThrowsAsync<DomainException>(() => Keys(k => k.CreateAsync("x", scopes, default)));
        Assert.Equal("invalid_scopes", ex.Code);
    }
}
