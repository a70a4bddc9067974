namespace Satsub.Data;

/// <summary>
/// A row that is updated concurrently and guarded by optimistic concurrency:
/// PostgreSQL's <c>xmin</c> system column, or an incremented <c>version</c> column on SQLite.
/// </summary>
public interface IVersioned
{
    uint Version { get; set; }
}
