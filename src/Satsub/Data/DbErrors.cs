using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Satsub.Data;

/// <summary>Classifies database errors that mean "someone else got there first, try again".</summary>
public static class DbErrors
{
    public static bool IsUniqueViolation(Exception ex) => Inner(ex) switch
    {
        PostgresException pg => pg.SqlState == PostgresErrorCodes.UniqueViolation,
        SqliteException sq => sq.SqliteErrorCode == 19 && sq.SqliteExtendedErrorCode is 2067 or 1555, // SQLITE_CONSTRAINT_UNIQUE / PRIMARYKEY
        _ => false,
    };

    /// <summary>A conflict that a fresh attempt of the same transaction resolves.</summary>
    public static bool IsRetryableConflict(Exception ex) =>
        ex is DbUpdateConcurrencyException
        || IsUniqueViolation(ex)
        || Inner(ex) switch
        {
            PostgresException pg => pg.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected,
            SqliteException sq => sq.SqliteErrorCode is 5 or 6, // SQLITE_BUSY, SQLITE_LOCKED
            _ => false,
        };

    /// <summary>The database cannot be reached or went away: the caller should answer 503, never 500.</summary>
    public static bool IsUnavailable(Exception ex) => Inner(ex) switch
    {
        NpgsqlException npg when npg is not PostgresException => true,
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal),
        _ => false,
    };

    private static Exception Inner(Exception ex)
    {
        var e = ex;
        while (e is DbUpdateException or InvalidOperationException && e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
