using System.Collections.Concurrent;

namespace Satsub.Dashboard;

/// <summary>
/// Limits failed dashboard sign-ins per client address: after <see cref="DashboardOptions.MaxFailedSignIns"/> failures within
/// <see cref="DashboardOptions.SignInWindowMinutes"/>, further attempts are refused until the oldest failure leaves the window.
/// Successful sign-ins are not counted. In memory: each instance limits on its own, which still bounds guessing.
/// </summary>
public sealed class SignInThrottle(TimeProvider clock, Microsoft.Extensions.Options.IOptions<DashboardOptions> options)
{
    private const int MaxTrackedClients = 10_000;
    private readonly ConcurrentDictionary<string, List<DateTimeOffset>> failures = new(StringComparer.Ordinal);

    private TimeSpan Window => TimeSpan.FromMinutes(options.Value.SignInWindowMinutes);

    /// <summary>How long the client must wait, or null when it may try.</summary>
    public TimeSpan? RetryAfter(string client)
    {
        if (!failures.TryGetValue(client, out var times)) return null;
        var now = clock.GetUtcNow();
        lock (times)
        {
            times.RemoveAll(t => t <= now - Window);
            if (times.Count < options.Value.MaxFailedSignIns) return null;
            return times[0] + Window - now;
        }
    }

    public void RecordFailure(string client)
    {
        var now = clock.GetUtcNow();
        if (failures.Count >= MaxTrackedClients) Prune(now);
        var times = failures.GetOrAdd(client, _ => []);
        lock (times)
        {
            times.RemoveAll(t => t <= now - Window);
            times.Add(now);
        }
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var (client, times) in failures)
        {
            bool stale;
            lock (times) stale = times.Count == 0 || times[^1] <= now - Window;
            if (stale) failures.TryRemove(client, out _);
        }
    }
}
