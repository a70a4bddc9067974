namespace Satsub.Tests.Fixtures;

/// <summary>
/// The reference documents in <c>shared/reference/</c>, which sit beside the repository: <c>/work/shared</c> next to a
/// work tree, <c>&lt;clone&gt;/../shared</c> in CI. They are data to test against, never copied into the repository.
/// </summary>
public static class SharedReference
{
    /// <summary>The folder of the repository: the first one above the test binaries that holds <c>Satsub.slnx</c>.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Satsub.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds Satsub.slnx: the tests must run from the repository.");
    }

    /// <summary><c>&lt;repository&gt;/../shared/reference/&lt;name&gt;</c>; fails with the path it looked at when it is missing.</summary>
    public static string Folder(string name)
    {
        var root = RepositoryRoot();
        var folder = Path.GetFullPath(Path.Combine(root, "..", "shared", "reference", name));
        if (!Directory.Exists(folder))
            throw new InvalidOperationException(
                $"The reference documents '{name}' are missing: expected them in {folder} (shared/reference/{name} beside the repository {root}). " +
                "The contract tests check Satsub's requests against them and cannot run without them.");
        return folder;
    }
}
