using Xunit.Abstractions;

[assembly: TestCollectionOrderer("Satsub.Tests.Fixtures.LastCollectionOrderer", "Satsub.Tests")]

namespace Satsub.Tests.Fixtures;

/// <summary>
/// Tests that measure the whole process (metrics counters, memory) run alone: xunit runs collections with
/// <c>DisableParallelization</c> after every parallel one, one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial (runs alone)";
}

/// <summary>The suite-wide log scan: alone, and after everything else (see <see cref="LastCollectionOrderer"/>).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LastCollection
{
    public const string Name = "Last (after every other test)";
}

/// <summary>Puts <see cref="LastCollection"/> at the end, so its tests see every other test's logs.</summary>
public sealed class LastCollectionOrderer : ITestCollectionOrderer
{
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(c => c.DisplayName == LastCollection.Name ? 1 : 0).ThenBy(c => c.UniqueID);
}
