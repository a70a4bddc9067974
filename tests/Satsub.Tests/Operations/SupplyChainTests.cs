using System.Diagnostics;

namespace Satsub.Tests.Operations;

/// <summary>
/// <c>.ci/check_vulnerable.py</c>, which judges <c>dotnet list package --vulnerable --include-transitive --format json</c>,
/// on captured outputs (in <c>Operations/SupplyChain/</c>): it fails on any vulnerability, direct or transitive, warns
/// but passes when the feed cannot be reached, and fails on output it does not understand.
/// </summary>
public sealed class SupplyChainTests
{
    private static readonly string Root = FindRoot();
    private static string Captured(string name) => Path.Combine(Root, "tests", "Satsub.Tests", "Operations", "SupplyChain", name);

    [Fact]
    public async Task A_vulnerable_package_fails_the_build_and_each_is_named()
    {
        var (code, text) = await JudgeAsync(Captured("vulnerable.json"), "");
        Assert.Equal(1, code);
        Assert.Contains("2 known vulnerabilities", text);
        Assert.Contains("System.Text.Json 8.0.0 (transitive): High https://github.com/advisories/GHSA-8g4q-xg66-9fp4", text);
        Assert.Contains("DotNetZip 1.0.0 (direct)", text);
    }

    [Fact]
    public async Task A_vulnerability_fails_even_when_some_source_was_unreachable()
    {
        var (code, _) = await JudgeAsync(Captured("vulnerable.json"), "warn : Unable to load the service index for source https://example.invalid/v3/index.json.");
        Assert.Equal(1, code);
    }

    [Fact]
    public async Task No_vulnerability_passes()
    {
        var (code, text) = await JudgeAsync(Captured("clean.json"), "");
        Assert.Equal(0, code);
        Assert.Contains("ok: no known-vulnerable NuGet package", text);
    }

    [Fact]
    public async Task An_unreachable_feed_warns_and_passes()
    {
        var (code, text) = await JudgeAsync(Captured("unreachable.stdout"), await File.ReadAllTextAsync(Captured("unreachable.stderr")));
        Assert.Equal(0, code);
        Assert.Contains("warning: the NuGet vulnerability feed could not be reached; vulnerable packages were NOT checked", text);
    }

    [Fact]
    public async Task A_check_that_did_not_run_fails()
    {
        // Captured with an http:// source, which NuGet refuses: the JSON lists the problem and no package.
        var (code, text) = await JudgeAsync(Captured("insecure-source.json"), "");
        Assert.Equal(2, code);
        Assert.Contains("NuGet requires HTTPS sources", text);
    }

    [Fact]
    public async Task Output_it_cannot_read_fails()
    {
        var (code, text) = await JudgeAsync(null, "", stdoutText: "Something unexpected happened.");
        Assert.Equal(2, code);
        Assert.Contains("could not read the output", text);
    }

    private static async Task<(int Code, string Stderr)> JudgeAsync(string? stdoutFile, string stderr, string? stdoutText = null)
    {
        var dir = Directory.CreateTempSubdirectory("satsub-vuln-").FullName;
        try
        {
            var outFile = Path.Combine(dir, "out");
            var errFile = Path.Combine(dir, "err");
            await File.WriteAllTextAsync(outFile, stdoutText ?? await File.ReadAllTextAsync(stdoutFile!));
            await File.WriteAllTextAsync(errFile, stderr);
            var psi = new ProcessStartInfo("python3") { RedirectStandardError = true, RedirectStandardOutput = true };
            psi.ArgumentList.Add(Path.Combine(Root, ".ci", "check_vulnerable.py"));
            psi.ArgumentList.Add(outFile);
            psi.ArgumentList.Add(errFile);
            using var process = Process.Start(psi)!;
            var text = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, text);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Satsub.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Satsub.slnx).");
    }
}
