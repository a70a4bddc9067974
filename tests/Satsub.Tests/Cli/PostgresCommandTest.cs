using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Cli;

/// <summary>
/// A test of a <c>satsub</c> command on the real executable against PostgreSQL: a fresh database and working folder
/// per test, both removed afterwards, and the environment the command runs with.
/// </summary>
public abstract class PostgresCommandTest(string folderPrefix) : IAsyncLifetime
{
    protected string Dir { get; } = Directory.CreateTempSubdirectory(folderPrefix).FullName;

    /// <summary>The database's connection string.</summary>
    protected string Database { get; private set; } = "";

    public async Task InitializeAsync() => Database = await TestPostgres.CreateDatabaseAsync();

    public async Task DisposeAsync()
    {
        await TestPostgres.DropDatabaseAsync(Database);
        Directory.Delete(Dir, recursive: true);
    }

    protected Dictionary<string, string> Env() => new()
    {
        ["DOTNET_ENVIRONMENT"] = "Development",
        ["Database__Provider"] = "postgres",
        ["ConnectionStrings__Satsub"] = Database,
    };
}
