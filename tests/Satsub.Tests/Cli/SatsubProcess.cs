using System.Diagnostics;
using System.Text;

namespace Satsub.Tests.Cli;

/// <summary>Runs the real <c>satsub</c> executable as a child process, as an operator would.</summary>
public sealed class SatsubProcess
{
    public static string Dll { get; } = FindDll();

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    public static ProcessStartInfo StartInfo(string workingDirectory, IDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Start from a clean slate: no inherited ASP.NET settings from the test runner.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        return psi;
    }

    public static async Task<Result> RunAsync(string workingDirectory, IDictionary<string, string> env, params string[] args)
    {
        using var process = Process.Start(StartInfo(workingDirectory, env, args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // Generous: a command is a few seconds, but a loaded 2-core CI machine runs many test processes at once.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"satsub {string.Join(' ', args)} did not exit within 180 s");
        }
        var result = new Result(process.ExitCode, await stdout, await stderr);
        // stderr carries the commands' logs (stdout is their output, such as a new key): scanned for secrets at the end.
        foreach (var line in result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)) Fixtures.LogCapture.AddLine("satsub " + args.FirstOrDefault() + ": " + line);
        return result;
    }

    private static string FindDll()
    {
        // tests/Satsub.Tests/bin/<Configuration>/net10.0 → src/Satsub/bin/<Configuration>/net10.0/satsub.dll
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = testBin.Parent!.Name;
        var root = testBin;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Satsub.slnx"))) root = root.Parent;
        if (root is null) throw new InvalidOperationException("Cannot find the repository root (Satsub.slnx) above " + AppContext.BaseDirectory);
        var dll = Path.Combine(root.FullName, "src", "Satsub", "bin", configuration, testBin.Name, "satsub.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build src/Satsub first.", dll);
    }
}
