using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;

namespace Satsub.Data;

public static class VersionedUpdates
{
    /// <summary>
    /// A set-based conditional update (a claim: only the rows still matching change) that keeps optimistic
    /// concurrency honest: on SQLite it also bumps the version column; PostgreSQL's xmin changes by itself.
    /// </summary>
    public static Task<int> UpdateVersionedAsync<T>(this SatsubDbContext db, IQueryable<T> rows, Action<UpdateSettersBuilder<T>> set, CancellationToken ct)
        where T : class, IVersioned
    {
        var sqlite = !db.IsPostgres;
        return rows.ExecuteUpdateAsync(s =>
        {
            set(s);
            if (sqlite) s.SetProperty(x => EF.Property<uint>(x, nameof(IVersioned.Version)), x => EF.Property<uint>(x, nameof(IVersioned.Version)) + 1);
        }, ct);
    }
}
