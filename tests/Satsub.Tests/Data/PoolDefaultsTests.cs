using Npgsql;
using Satsub.Data;
using Satsub.Hosting;

namespace Satsub.Tests.Data;

public sealed class PoolDefaultsTests
{
    [Fact]
    public void AConnectionStringWithoutThem_GetsAutomaticPreparationAndNoReset()
    {
        var csb = new NpgsqlConnectionStringBuilder(DataModule.WithPoolDefaults("Host=db;Username=satsub;Password=s3cret;Database=satsub"));
        Assert.Equal((200, 2, true), (csb.MaxAutoPrepare, csb.AutoPrepareMinUsages, csb.NoResetOnClose));
        Assert.Equal(("db", "satsub", "s3cret", "satsub"), (csb.Host, csb.Username, csb.Password, csb.Database));
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0", 0, 5, true)]
    [InlineData("Host=db;MaxAutoPrepare=20", 20, 5, true)]
    [InlineData("Host=db;Max Auto Prepare=50;Auto Prepare Min Usages=7", 50, 7, true)]
    [InlineData("Host=db;No Reset On Close=false", 200, 2, false)]
    [InlineData("Host=db;NoResetOnClose=false;Max Auto Prepare=0", 0, 5, false)]
    public void TheOperatorsChoice_IsKept(string given, int max, int minUsages, bool noReset)
    {
        var csb = new NpgsqlConnectionStringBuilder(DataModule.WithPoolDefaults(given));
        Assert.Equal((max, minUsages, noReset), (csb.MaxAutoPrepare, csb.AutoPrepareMinUsages, csb.NoResetOnClose));
    }

    [Fact]
    public void JobLocks_UseAPoolThatResetsConnections()
    {
        // A session advisory lock whose unlock failed must not travel with a pooled connection to the next job run.
        var csb = new NpgsqlConnectionStringBuilder(JobCoordinator.SessionLockConnectionString(DataModule.WithPoolDefaults("Host=db;Password=p")));
        Assert.False(csb.NoResetOnClose);
        Assert.Equal(("db", "p", 200), (csb.Host, csb.Password, csb.MaxAutoPrepare));
    }
}
