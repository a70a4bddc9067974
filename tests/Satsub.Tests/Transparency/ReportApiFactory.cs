using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Transparency;

/// <summary>The whole app with a fake clock (so months can close), a signing key, no hold, and a low sign-in failure limit.</summary>
public sealed class ReportApiFactory : ApiFactory
{
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 3, 10, 12, 0, 0, TimeSpan.Zero));

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Transparency:SigningKeyWif"] = ReportSignerTests.Wif,
        ["Affiliate:HoldDays"] = "0",
        ["Dashboard:MaxFailedSignIns"] = "2",
        ["Dashboard:SignInWindowMinutes"] = "15",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock)));
    }
}
