using System.Diagnostics;

namespace Satsub.Bench;

/// <summary>Latencies in milliseconds and the failures of one measurement.</summary>
internal sealed class Latencies
{
    // Every attempt's time, failures included: a failed request (a time-out, most often) counts at the time it took,
    // so a percentile is never flattered by leaving the slowest requests out.
    private readonly List<double> _ms = [];
    private long _errors;

    public int Count { get { lock (_ms) return _ms.Count - (int)Errors; } }
    public long Errors => Interlocked.Read(ref _errors);

    public void Add(double ms) { lock (_ms) _ms.Add(ms); }

    public void Error(double ms)
    {
        Interlocked.Increment(ref _errors);
        lock (_ms) _ms.Add(ms);
    }

    /// <summary>The nearest-rank percentile (p in 0–100) over every attempt.</summary>
    public double Percentile(double p)
    {
        lock (_ms)
        {
            if (_ms.Count == 0) return double.NaN;
            _ms.Sort();
            var rank = (int)Math.Ceiling(p / 100 * _ms.Count);
            return _ms[Math.Clamp(rank - 1, 0, _ms.Count - 1)];
        }
    }

    public string Summary() => $"p50 {Percentile(50):0.0} ms, p95 {Percentile(95):0.0} ms, p99 {Percentile(99):0.0} ms, max {Percentile(100):0.0} ms, {Count} ok, {Errors} errors (counted at their time)";
}

internal static class Load
{
    /// <summary>Runs <paramref name="op"/> once per item with <paramref name="concurrency"/> workers, as fast as they go.</summary>
    public static async Task<Latencies> ClosedLoopAsync<T>(int concurrency, IReadOnlyList<T> items, Func<T, Task<bool>> op)
    {
        var result = new Latencies();
        var next = -1;
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < items.Count)
                await Timed(result, () => op(items[i]), Stopwatch.GetTimestamp());
        });
        await Task.WhenAll(workers);
        return result;
    }

    /// <summary>Runs <paramref name="op"/> with <paramref name="concurrency"/> workers for <paramref name="duration"/>; the successful operations per second.</summary>
    public static async Task<(Latencies Latencies, double PerSecond)> ClosedLoopForAsync(int concurrency, TimeSpan duration, Func<Task<bool>> op)
    {
        var result = new Latencies();
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (clock.Elapsed < duration) await Timed(result, op, Stopwatch.GetTimestamp());
        });
        await Task.WhenAll(workers);
        return (result, result.Count / clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Two closed loops taking turns in short slices until each has run <paramref name="each"/>: the machine is shared,
    /// and a neighbour that takes the cores for a few seconds then slows both alike instead of whichever ran then, so
    /// the ratio of their rates (the figure) does not depend on when the neighbour came.
    /// </summary>
    public static async Task<((Latencies Latencies, double PerSecond) A, (Latencies Latencies, double PerSecond) B)> AlternatingClosedLoopsAsync(
        int concurrency, TimeSpan each, TimeSpan slice, Func<Task<bool>> a, Func<Task<bool>> b)
    {
        var (latenciesA, latenciesB) = (new Latencies(), new Latencies());
        var (timeA, timeB) = (TimeSpan.Zero, TimeSpan.Zero);
        while (timeA < each || timeB < each)
        {
            timeA += await SliceAsync(latenciesA, a);
            timeB += await SliceAsync(latenciesB, b);
        }
        return ((latenciesA, latenciesA.Count / timeA.TotalSeconds), (latenciesB, latenciesB.Count / timeB.TotalSeconds));

        async Task<TimeSpan> SliceAsync(Latencies into, Func<Task<bool>> op)
        {
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                while (clock.Elapsed < slice) await Timed(into, op, Stopwatch.GetTimestamp());
            }));
            return clock.Elapsed;
        }
    }

    /// <summary>
    /// Open loop: starts one operation every 1/<paramref name="perSecond"/> s whether or not the earlier ones are done, and
    /// measures each from the moment it was due, so a slow server cannot hide its queue (no coordinated omission).
    /// </summary>
    public static async Task<Latencies> OpenLoopAsync(double perSecond, TimeSpan duration, Func<Task<bool>> op)
    {
        var result = new Latencies();
        var total = (int)(perSecond * duration.TotalSeconds);
        var start = Stopwatch.GetTimestamp();
        var running = new List<Task>(total);
        for (var k = 0; k < total; k++)
        {
            var due = start + (long)(k / perSecond * Stopwatch.Frequency);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait);
            running.Add(Task.Run(() => Timed(result, op, due)));
        }
        await Task.WhenAll(running);
        return result;
    }

    private static async Task Timed(Latencies result, Func<Task<bool>> op, long from)
    {
        try
        {
            if (await op()) result.Add(Stopwatch.GetElapsedTime(from).TotalMilliseconds);
            else result.Error(Stopwatch.GetElapsedTime(from).TotalMilliseconds);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            result.Error(Stopwatch.GetElapsedTime(from).TotalMilliseconds);
        }
    }
}
