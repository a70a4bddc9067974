using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Satsub.Data;

// Used only by `dotnet ef migrations add`; the connection strings are never opened.
internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresSatsubDbContext>
{
    public PostgresSatsubDbContext CreateDbContext(string[] args)
    {
        var o = new DbContextOptionsBuilder<PostgresSatsubDbContext>();
        DataModule.ConfigurePostgres(o, "Host=localhost;Database=satsub_design");
        return new PostgresSatsubDbContext(o.Options);
    }
}

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteSatsubDbContext>
{
    public SqliteSatsubDbContext CreateDbContext(string[] args)
    {
        var o = new DbContextOptionsBuilder<SqliteSatsubDbContext>();
        DataModule.ConfigureSqlite(o, "Data Source=design.db");
        return new SqliteSatsubDbContext(o.Options);
    }
}
