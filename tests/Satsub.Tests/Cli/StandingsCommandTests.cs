using Microsoft.EntityFrameworkCore;
using Satsub.Affiliates.Standings;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Cli;

/// <summary><c>satsub standings rebuild</c> on the real executable, against the embedded SQLite database.</summary>
public sealed class StandingsCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("satsub-cli-standings-").FullName;

    private string Connection => $"Data Source={Path.Combine(dir, "satsub.db")}";

    [Fact]
    public async Task Rebuild_RecomputesTheStandingsFromTheCommissions()
    {
        Guid affiliateId;
        await using (var services = await SatsubServices.StartAsync(DbKind.Sqlite, new Dictionary<string, string?> { ["ConnectionStrings:Satsub"] = Connection }))
        {
            var affiliate = await services.RegisterAsync();
            for (var i = 0; i < 2; i++)
            {
                var buyer = await services.RegisterAsync(affiliate.ReferralCode);
                await services.SettleAsync((await services.BuyAsync(buyer.Id)).Id);
            }
            affiliateId = affiliate.Id;
            // As after a bulk load: the standings are gone, the commissions are there.
            await services.DbAsync(db => db.AffiliateStandings.ExecuteDeleteAsync());
        }

        var run = await SatsubProcess.RunAsync(dir, new Dictionary<string, string>
        {
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["ConnectionStrings__Satsub"] = Connection,
        }, "standings", "rebuild");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("Rebuilt the affiliate standings", run.Stderr, StringComparison.Ordinal);
        await using (var services = await SatsubServices.StartAsync(DbKind.Sqlite, new Dictionary<string, string?> { ["ConnectionStrings:Satsub"] = Connection }))
        {
            var row = await services.DbAsync(db => db.AffiliateStandings.AsNoTracking().SingleAsync(s => s.AffiliateId == affiliateId));
            var place = await services.DbAsync(db => db.AffiliateScorePlaces.AsNoTracking().SingleAsync(p => p.Month == 0 && p.Score == row.RankedScore));
            Assert.Equal((2, 2, 2, 2, 20_000L, 200L, false), (row.ReferredUsers, row.PayingReferrals, row.PayingCustomers, row.Sales, row.ReferredSalesSats,
                row.Score, row.RankDirty));
            Assert.Equal((1, 200L, 1), (place.Place, place.Score, place.Affiliates));
        }
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
