using Npgsql;
using Satsub.Data;

namespace Satsub.Tests.Data;

public sealed class AutoPrepareTests
{
    [Fact]
    public void AConnectionStringWithoutIt_GetsAutomaticPreparation()
    {
        var csb = new NpgsqlConnectionStringBuilder(DataModule.WithAutoPrepare("Host=db;Username=satsub;Password=s3cret;Database=satsub"));
        Assert.Equal((200, 2), (csb.MaxAutoPrepare, csb.AutoPrepareMinUsages));
        Assert.Equal(("db", "satsub", "s3cret", "satsub"), (csb.Host, csb.Username, csb.Password, csb.Database));
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0", 0, 5)]
    [InlineData("Host=db;MaxAutoPrepare=20", 20, 5)]
    [InlineData("Host=db;Max Auto Prepare=50;Auto Prepare Min Usages=7", 50, 7)]
    public void TheOperatorsChoice_IsKept(string given, int max, int minUsages)
    {
        var csb = new NpgsqlConnectionStringBuilder(DataModule.WithAutoPrepare(given));
        Assert.Equal((max, minUsages), (csb.MaxAutoPrepare, csb.AutoPrepareMinUsages));
    }
}
