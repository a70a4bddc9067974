using System.Text.Json;
using System.Text.RegularExpressions;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Transparency;

/// <summary>The committed Chart.js is the one the npm lock file pins (see src/Satsub/Transparency/Vendor/README.md).</summary>
public sealed class VendoredAssetsTests
{
    [Fact]
    public void VendoredChartJs_IsTheVersionTheLockFilePins()
    {
        var project = Path.Combine(SharedReference.RepositoryRoot(), "src", "Satsub");
        using var lockFile = JsonDocument.Parse(File.ReadAllText(Path.Combine(project, "package-lock.json")));
        var pinned = lockFile.RootElement.GetProperty("packages").GetProperty("node_modules/chart.js").GetProperty("version").GetString();

        var header = File.ReadLines(Path.Combine(project, "Transparency", "Vendor", "chart.umd.min.js")).Take(6);
        var vendored = header.Select(l => Regex.Match(l, @"Chart\.js v(\d+\.\d+\.\d+)")).First(m => m.Success).Groups[1].Value;

        Assert.Equal(pinned, vendored);
        Assert.True(File.Exists(Path.Combine(project, "Transparency", "Vendor", "chart.js.LICENSE.md")));
    }
}
