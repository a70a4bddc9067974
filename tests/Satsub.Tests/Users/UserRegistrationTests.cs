using Satsub.Common;
using Satsub.Tests.Fixtures;
using Satsub.Users;

namespace Satsub.Tests.Users;

public sealed class UserRegistrationTests_Sqlite(SqliteFixture fx) : UserRegistrationTests<SqliteFixture>(fx);

public sealed class UserRegistrationTests_Postgres(PostgresFixture fx) : UserRegistrationTests<PostgresFixture>(fx);

public abstract class UserRegistrationTests<TFixture>(TFixture fx) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    private Task<(User User, bool Created)> RegisterAsync(string platform, string? externalId, string? username, string? referral) =>
        App.WithAsync<UserRegistration, (User, bool)>(r => r.RegisterAsync(new RegistrationRequest(platform, externalId, username, referral), default));

    [Fact]
    public async Task Register_WithAReferralCodeOrUserId_SetsTheReferrer()
    {
        var referrer = await App.RegisterAsync();
        var (byCode, _) = await RegisterAsync("telegram", "1001" + Guid.NewGuid().ToString("N")[..6], "b", referrer.ReferralCode.ToUpperInvariant());
        var (byId, _) = await RegisterAsync("website", null, "web-" + Guid.NewGuid().ToString("N")[..8], referrer.Id.ToString());
        Assert.Equal(referrer.Id, byCode.ReferrerId);
        Assert.Equal(referrer.Id, byId.ReferrerId);
        Assert.Matches("^[0-9a-z]{10}$", byCode.ReferralCode);
        Assert.NotEqual(byCode.ReferralCode, byId.ReferralCode);
    }

    [Theory]
    [InlineData("nosuchcode")]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    [InlineData("'; DROP TABLE users; --")]
    public async Task Register_WithAnUnknownReferral_IsRefused(string referral)
    {
        var ex = await Assert.ThrowsAsync<DomainException>(() => RegisterAsync("telegram", Guid.NewGuid().ToString("N")[..9], "x", referral));
        Assert.Equal("unknown_referrer", ex.Code);
        Assert.Equal(422, ex.Status);
    }

    [Fact]
    public async Task Register_AnExistingTelegramUser_KeepsTheirFirstReferrer()
    {
        var first = await App.RegisterAsync();
        var second = await App.RegisterAsync();
        var externalId = Guid.NewGuid().ToString("N")[..10];
        var (user, created) = await RegisterAsync("telegram", externalId, "old name", first.ReferralCode);
        var (again, createdAgain) = await RegisterAsync("telegram", externalId, "new name", second.ReferralCode);

        Assert.True(created);
        Assert.False(createdAgain);
        Assert.Equal(user.Id, again.Id);
        Assert.Equal(first.Id, again.ReferrerId);
    }

    [Fact]
    public async Task Register_AWebsiteUsernameTwice_IsAConflict()
    {
        var name = "site-" + Guid.NewGuid().ToString("N")[..8];
        await RegisterAsync("website", null, name, null);
        var ex = await Assert.ThrowsAsync<DomainException>(() => RegisterAsync("website", null, name, null));
        Assert.Equal(409, ex.Status);
    }

    [Fact]
    public async Task Register_QueuesAUserRegisteredEvent()
    {
        var user = await App.RegisterAsync();
        Assert.Equal(1, await App.DbAsync(db => Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.CountAsync(
            db.OutboxMessages, m => m.DedupeKey == $"user.registered:{user.Id:D}")));
    }
}
