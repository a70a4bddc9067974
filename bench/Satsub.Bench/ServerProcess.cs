using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Satsub.Bench;

/// <summary>The real <c>satsub serve</c> as a child process (the built binary), its output kept in a log file.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    public string BaseUrl { get; }
    public int Pid => _process.Id;

    private ServerProcess(Process process, StreamWriter log, string baseUrl)
    {
        _process = process;
        _log = log;
        BaseUrl = baseUrl;
    }

    /// <summary>Starts <c>satsub serve</c>; returns once it is running, before it is healthy.</summary>
    public static ServerProcess Start(string satsubDll, string workingDirectory, IDictionary<string, string> settings, string logPath, params string[] args)
    {
        var port = FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        // The apphost (`satsub`) as an operator runs it; `dotnet satsub.dll` when only the dll is given.
        var viaDotnet = satsubDll.EndsWith(".dll", StringComparison.Ordinal);
        var psi = new ProcessStartInfo(viaDotnet ? "dotnet" : satsubDll)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (viaDotnet) psi.ArgumentList.Add(satsubDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["ASPNETCORE_URLS"] = baseUrl;
        foreach (var (k, v) in settings) psi.Environment[k.Replace(":", "__", StringComparison.Ordinal)] = v;
        // SATSUB_BENCH_SERVER_X=v sets X=v for satsub only (profiling: DOTNET_JitStdOutFile, DOTNET_PerfMapEnabled, …).
        const string ServerOnly = "SATSUB_BENCH_SERVER_";
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith(ServerOnly, StringComparison.Ordinal)).ToList())
            psi.Environment[key[ServerOnly.Length..]] = psi.Environment[key];
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServerProcess(process, log, baseUrl);
    }

    /// <summary>Polls <c>/health</c> every 5 ms until it answers 200; the time since <paramref name="since"/>.</summary>
    public async Task<TimeSpan> WaitHealthyAsync(HttpClient http, Stopwatch since, TimeSpan timeout, CancellationToken ct)
    {
        while (since.Elapsed < timeout)
        {
            if (_process.HasExited) throw new BenchFailure($"satsub exited with code {_process.ExitCode} before /health answered (see the server log)");
            try
            {
                using var response = await http.GetAsync(BaseUrl + "/health", ct);
                if (response.StatusCode == HttpStatusCode.OK) return since.Elapsed;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(5, ct);
        }
        throw new BenchFailure($"satsub did not answer /health within {timeout.TotalSeconds} s");
    }

    /// <summary>Peak resident set size (VmHWM) in bytes.</summary>
    public long PeakRssBytes() => ProcStats.StatusKb(Pid, "VmHWM") * 1024;

    public TimeSpan CpuTime() => ProcStats.CpuTime(Pid);

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited)
        {
            // SIGTERM first, so the host stops gracefully; SIGKILL if it has not within 15 s.
            _ = SendSignal(_process.Id, 15);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try { await _process.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }
        _process.Dispose();
        await _log.DisposeAsync();
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>CPU time and memory from /proc (Linux).</summary>
internal static class ProcStats
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>utime + stime of a process (fields 14 and 15 of /proc/&lt;pid&gt;/stat).</summary>
    public static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    public static TimeSpan SelfCpuTime() => Process.GetCurrentProcess().TotalProcessorTime;

    /// <summary>The PostgreSQL backends serving <paramref name="database"/> now, by pid, with their CPU time (their process
    /// title names the database: "postgres: 15/main: user database host(port) state").</summary>
    public static Dictionary<int, TimeSpan> Backends(string database)
    {
        var found = new Dictionary<int, TimeSpan>();
        var marker = " " + database + " ";
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
            try
            {
                var title = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (title.StartsWith("postgres:", StringComparison.Ordinal) && title.Contains(marker, StringComparison.Ordinal))
                {
                    var pid = int.Parse(name, CultureInfo.InvariantCulture);
                    found[pid] = CpuTime(pid);
                }
            }
            catch (IOException) { } // exited meanwhile
            catch (UnauthorizedAccessException) { }
        }
        return found;
    }

    /// <summary>The whole machine's busy CPU time (every core, every process) from /proc/stat.</summary>
    public static TimeSpan MachineBusy()
    {
        var line = File.ReadLines("/proc/stat").First();
        var v = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
        var busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v.Length > 7 ? v[7] : 0);
        return TimeSpan.FromSeconds(busy / TicksPerSecond);
    }

    public static long StatusKb(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (!line.StartsWith(field + ":", StringComparison.Ordinal)) continue;
            var value = line[(field.Length + 1)..].Trim().Split(' ')[0];
            return long.Parse(value, CultureInfo.InvariantCulture);
        }
        return 0;
    }
}

/// <summary>
/// The CPU time PostgreSQL spent for one database over an interval: its backends are read every 100 ms; a backend
/// there at the start counts from its time then, a later one from zero. A backend's last 100 ms before it exits are
/// missed, so the figure is a slight lower bound.
/// </summary>
internal sealed class BackendCpuSampler : IAsyncDisposable
{
    private readonly string database;
    private readonly Dictionary<int, TimeSpan> first;
    private readonly Dictionary<int, TimeSpan> last = new();
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    private readonly int? exclude;

    /// <summary>Samples the backends serving <paramref name="database"/>, but <paramref name="exclude"/> (the bench's own connection).</summary>
    public BackendCpuSampler(string database, int? exclude = null)
    {
        this.database = database;
        this.exclude = exclude;
        first = ProcStats.Backends(database);
        loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Sample();
                try { await Task.Delay(100, stop.Token); } catch (OperationCanceledException) { }
            }
        });
    }

    private void Sample()
    {
        foreach (var (pid, cpu) in ProcStats.Backends(database))
            if (pid != exclude) lock (last) last[pid] = cpu;
    }

    /// <summary>Stops sampling and returns the CPU time since the start.</summary>
    public async Task<TimeSpan> StopAsync()
    {
        await stop.CancelAsync();
        await loop;
        Sample();
        var total = TimeSpan.Zero;
        foreach (var (pid, cpu) in last) total += cpu - first.GetValueOrDefault(pid);
        return total;
    }

    public async ValueTask DisposeAsync()
    {
        if (!stop.IsCancellationRequested) await StopAsync();
        stop.Dispose();
    }
}
