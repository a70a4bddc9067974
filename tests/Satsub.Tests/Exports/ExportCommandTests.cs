using Npgsql;
using Satsub.Tests.Cli;

namespace Satsub.Tests.Exports;

/// <summary><c>satsub export</c> on the real executable, against PostgreSQL.</summary>
public sealed class ExportCommandTests() : PostgresCommandTest("satsub-export-")
{
    [Fact]
    public async Task Export_writes_a_file_or_stdout_and_honours_the_window()
    {
        Assert.Equal(0, (await SatsubProcess.RunAsync(Dir, Env(), "migrate")).ExitCode);
        await using (var conn = new NpgsqlConnection(Database))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO users (id, platform, external_id, username, referral_code, created_at, hidden_from_leaderboard)
                SELECT gen_random_uuid(), 'telegram', n::text, 'cli_' || n, 'c' || n, TIMESTAMPTZ '2026-03-01' + n * INTERVAL '1 day', false
                FROM generate_series(1, 10) AS n
                """, conn);
            await cmd.ExecuteNonQueryAsync();
        }

        var file = Path.Combine(Dir, "users.csv");
        var toFile = await SatsubProcess.RunAsync(Dir, Env(), "export", "users", "--output", file);
        Assert.True(toFile.ExitCode == 0, toFile.Stderr);
        Assert.Contains("Exported 10 users row(s)", toFile.Stderr);
        var rows = CsvReader.Parse(await File.ReadAllTextAsync(file));
        Assert.Equal(11, rows.Count);
        Assert.Equal("user_id", rows[0][0]);
        Assert.Equal(Enumerable.Range(1, 10).Select(n => "cli_" + n), rows.Skip(1).Select(r => r[3]));
        Assert.False(File.Exists(file + ".partial"));

        // March 2..11 were created; [03-04, 03-07) holds days 3, 4 and 5 → users 3, 4 and 5.
        var window = await SatsubProcess.RunAsync(Dir, Env(), "export", "users", "--from", "2026-03-04", "--to", "2026-03-07");
        Assert.Equal(0, window.ExitCode);
        Assert.Equal(["cli_3", "cli_4", "cli_5"], CsvReader.Parse(window.Stdout).Skip(1).Select(r => r[3]));

        var bad = await SatsubProcess.RunAsync(Dir, Env(), "export", "users", "--from", "someday");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("from must be", bad.Stderr);
    }
}
