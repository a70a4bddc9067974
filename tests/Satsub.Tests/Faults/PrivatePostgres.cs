using System.Diagnostics;
using Npgsql;

namespace Satsub.Tests.Faults;

/// <summary>
/// A PostgreSQL cluster of its own (<c>initdb</c> in a temporary folder, a free port, trust on loopback), so a test can
/// stop and restart the database without touching the one the rest of the suite uses. As root the tools run as the
/// <c>postgres</c> user, since PostgreSQL refuses to run as root.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string bin;
    private readonly string folder;

    private PrivatePostgres(string bin, string folder, int port)
    {
        this.bin = bin;
        this.folder = folder;
        Port = port;
    }

    public int Port { get; }
    private string Data => Path.Combine(folder, "data");

    public string ConnectionString(string database = "postgres") =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database, Timeout = 3 }.ConnectionString;

    /// <summary>The folder of <c>initdb</c> and <c>pg_ctl</c>: the newest under /usr/lib/postgresql, else on the PATH.</summary>
    public static string? FindBin()
    {
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0).Select(d => Path.Combine(d, "bin"))
            : [];
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return candidates.Concat(path).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
    }

    private static bool IsRoot => Environment.UserName == "root";

    public static async Task<PrivatePostgres> StartAsync()
    {
        var bin = FindBin() ?? throw new InvalidOperationException("initdb is not installed");
        var folder = Directory.CreateTempSubdirectory("satsub-pg-").FullName;
        var pg = new PrivatePostgres(bin, folder, FreePort.Next());
        if (IsRoot) await RunAsync("chown", "-R", "postgres:postgres", folder);
        // No fsync: the cluster lives for one test; stopping it is what the test is about, not the disk.
        await pg.ToolAsync("initdb", "-D", pg.Data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C");
        await pg.StartServerAsync();
        return pg;
    }

    public Task StartServerAsync() =>
        ToolAsync("pg_ctl", "-D", Data, "-l", Path.Combine(folder, "log"), "-w", "-t", "60",
            "-o", $"-p {Port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", "start");

    /// <summary><c>pg_ctl stop -m fast</c>: open sessions are cut off, transactions in progress roll back.</summary>
    public Task StopServerAsync() => ToolAsync("pg_ctl", "-D", Data, "-m", "fast", "-w", "-t", "60", "stop");

    public async Task CreateDatabaseAsync(string name)
    {
        await using var conn = new NpgsqlConnection(ConnectionString());
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private Task ToolAsync(string tool, params string[] args) =>
        IsRoot ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(bin, tool), .. args]) : RunAsync(Path.Combine(bin, tool), args);

    private static async Task RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try { await ToolAsync("pg_ctl", "-D", Data, "-m", "immediate", "-w", "stop"); }
        catch (InvalidOperationException) { } // already stopped
        try { Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>A fact that needs <c>initdb</c>; skipped, saying so, where PostgreSQL's server tools are not installed.</summary>
public sealed class InitdbFactAttribute : FactAttribute
{
    public InitdbFactAttribute()
    {
        if (PrivatePostgres.FindBin() is null)
            Skip = "initdb/pg_ctl not found (install the postgresql package): this test needs a PostgreSQL cluster of its own.";
    }
}
