using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Data;
using Satsub.Tests.Fixtures;
using Satsub.Tests.Payouts;
using Satsub.Transparency;

namespace Satsub.Tests.Transparency;

public sealed class ReportClosingJobTests(ReportSqliteFixture fx) : IClassFixture<ReportSqliteFixture>
{
    private async Task<List<string>> RunJobAsync()
    {
        await using var scope = fx.App.Scope();
        var services = scope.ServiceProvider;
        return await ReportClosingJob.CloseDueAsync(services.GetRequiredService<SatsubDbContext>(), services.GetRequiredService<MonthlyReports>(), fx.App.Clock, default);
    }

    [Fact]
    public async Task Job_ClosesAndSignsEachFinishedMonthOnce_AndNeverTheOpenOne()
    {
        var affiliate = await fx.App.RegisterAsync();
        await fx.App.SellAsync(affiliate);
        Assert.Empty(await RunJobAsync());

        // Into March: January and February are over (February had no sales and is closed all the same, empty).
        fx.App.Clock.SetUtcNow(new DateTimeOffset(2026, 3, 1, 0, 30, 0, TimeSpan.Zero));
        await fx.App.SellAsync(affiliate);
        Assert.Equal(["2026-01", "2026-02"], await RunJobAsync());
        Assert.Empty(await RunJobAsync());

        var stored = await fx.App.DbAsync(db => db.ClosedReports.AsNoTracking().OrderBy(r => r.Month).ToListAsync());
        Assert.Equal(["2026-01", "2026-02"], stored.Select(r => r.Month));
        Assert.All(stored, r => Assert.True(ReportSigner.Verify(new ReportSignature(r.SignatureAddress!, r.SignatureScheme!, r.SignatureMessage!, r.Signature!), NBitcoin.Network.Main)));
        var january = ReportCsv.Read(await fx.App.DbAsync(db => db.StoredCsvAsync("2026-01")));
        Assert.Equal(ReportRow.Sale, Assert.Single(january).Type);
        Assert.Equal([1L, 0L], stored.Select(r => r.RowCount!.Value));
        Assert.Equal(1, stored[0].SalesCount);
        Assert.Empty(ReportCsv.Read(await fx.App.DbAsync(db => db.StoredCsvAsync("2026-02"))));
        var march = await fx.App.ReportAsync(new DateOnly(2026, 3, 1));
        Assert.False(march!.Closed);
        Assert.Single(march.Rows);
    }
}
