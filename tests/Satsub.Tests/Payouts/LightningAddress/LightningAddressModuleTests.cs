using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Satsub.Payouts.LightningAddress;

namespace Satsub.Tests.Payouts.LightningAddress;

public sealed class LightningAddressModuleTests
{
    [Fact]
    public void AddLightningAddressPayouts_Defaults_RefusePrivateTargetsAndWaitTenSeconds()
    {
        using var host = Build([]);

        var options = host.Services.GetRequiredService<IOptions<LightningAddressOptions>>().Value;

        Assert.False(options.AllowPrivateTargets);
        Assert.Equal(10, options.TimeoutSeconds);
        Assert.Same(host.Services.GetRequiredService<LnurlPayClient>(), host.Services.GetRequiredService<LnurlPayClient>());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("121")]
    public void AddLightningAddressPayouts_BadTimeout_IsNamedInTheError(string value)
    {
        using var host = Build(new() { ["Payouts:LightningAddress:TimeoutSeconds"] = value });

        var e = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<LightningAddressOptions>>().Value);

        Assert.Contains("Payouts:LightningAddress:TimeoutSeconds", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddLightningAddressPayouts_BindsAllowPrivateTargets()
    {
        using var host = Build(new() { ["Payouts:LightningAddress:AllowPrivateTargets"] = "true" });

        Assert.True(host.Services.GetRequiredService<IOptions<LightningAddressOptions>>().Value.AllowPrivateTargets);
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddLightningAddressPayouts();
        return builder.Build();
    }
}
