namespace Satsub.Tests.Payouts.LightningAddress;

using Address = Satsub.Payouts.LightningAddress.LightningAddress;

public sealed class LightningAddressParseTests
{
    [Theory]
    [InlineData("alice@payee.example", "alice", "payee.example")]
    [InlineData("  Alice@Payee.EXAMPLE ", "alice", "payee.example")]
    [InlineData("lightning:bob@wallet.example.com", "bob", "wallet.example.com")]
    [InlineData("a.b-c_d9@sub-1.domain.io", "a.b-c_d9", "sub-1.domain.io")]
    [InlineData("alice+tips@payee.example", "alice+tips", "payee.example")]
    [InlineData("satoshi@xn--bcher-kva.example", "satoshi", "xn--bcher-kva.example")]
    public void TryParse_ValidAddress_IsReadInLowerCase(string text, string name, string domain)
    {
        Assert.True(Address.TryParse(text, out var address));
        Assert.Equal(name, address.Name);
        Assert.Equal(domain, address.Domain);
        Assert.Equal($"{name}@{domain}", address.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("alice")]
    [InlineData("@payee.example")]
    [InlineData("alice@")]
    [InlineData("al ice@payee.example")]
    [InlineData("al!ce@payee.example")]
    [InlineData("ali%40ce@payee.example")]
    [InlineData("alice@@payee.example")]
    [InlineData("a@b@payee.example")]
    [InlineData("+tips@payee.example")]
    [InlineData("alice+a+b@payee.example")]
    [InlineData("alice@localhost")]
    [InlineData("alice@127.0.0.1")]
    [InlineData("alice@2130706433")]
    [InlineData("alice@0x7f000001")]
    [InlineData("alice@[::1]")]
    [InlineData("alice@payee.example:8443")]
    [InlineData("alice@payee.example/path")]
    [InlineData("alice@-payee.example")]
    [InlineData("alice@payee-.example")]
    [InlineData("alice@payee..example")]
    [InlineData("alice@payee.example.")]
    [InlineData("alice@pay_ee.example")]
    [InlineData("alice@pàyee.example")]
    [InlineData("user:pass@payee.example")]
    public void TryParse_NotALightningAddress_IsRefused(string? text) =>
        Assert.False(Address.TryParse(text, out _));

    [Fact]
    public void TryParse_OverlongName_IsRefused() =>
        Assert.False(Address.TryParse(new string('a', 65) + "@payee.example", out _));

    [Fact]
    public void WellKnownUri_IsLud16OverHttps()
    {
        var address = Address.Parse("alice+tips@payee.example");

        Assert.Equal("https://payee.example/.well-known/lnurlp/alice+tips", address.WellKnownUri.AbsoluteUri);
        Assert.Equal("alice", address.NameWithoutTag);
    }
}
