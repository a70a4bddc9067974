using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Satsub.Data;

/// <summary>Helpers for the few raw statements (INSERT … ON CONFLICT DO NOTHING) that EF cannot express.</summary>
public static class RawSql
{
    /// <summary>A parameter that may be null (EF cannot infer a type mapping from a bare null).</summary>
    public static DbParameter Nullable(this SatsubDbContext db, string name, object? value)
    {
        using var command = db.Database.GetDbConnection().CreateCommand();
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        return parameter;
    }

    /// <summary>A time as the column stores it: timestamptz on PostgreSQL, UTC microseconds on SQLite.</summary>
    public static object Time(this SatsubDbContext db, DateTimeOffset at) =>
        db.IsPostgres ? at : (at.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond;
}
