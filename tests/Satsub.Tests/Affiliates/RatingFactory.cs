using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Affiliates;

/// <summary>The app with two tiers, the default 7-day hold and a fake clock (months and holds pass on demand).</summary>
public sealed class RatingFactory : ApiFactory
{
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 3, 10, 12, 0, 0, TimeSpan.Zero));

    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Affiliate:Tiers:0:Name"] = "Silver",
        ["Affiliate:Tiers:0:MinPayingCustomers"] = "2",
        ["Affiliate:Tiers:0:BonusBps"] = "500",
        ["Affiliate:Tiers:1:Name"] = "Gold",
        ["Affiliate:Tiers:1:MinReferredSalesSats"] = "50000",
        ["Affiliate:Tiers:1:BonusBps"] = "1000",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(s => s.AddSingleton<TimeProvider>(Clock));
    }
}
