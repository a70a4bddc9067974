namespace Satsub.Hosting;

/// <summary>
/// A worker that cannot die: it runs <see cref="RunOnceAsync"/> every <see cref="Interval"/> (on the injected
/// <see cref="TimeProvider"/>, so tests control it) in a fresh DI scope, logs and survives any failure, and
/// can be woken early with <see cref="Wake"/>.
/// </summary>
public abstract class PeriodicJob(IServiceScopeFactory scopes, TimeProvider clock, ILogger logger) : BackgroundService
{
    private readonly SemaphoreSlim wake = new(0, 1);

    protected abstract TimeSpan Interval { get; }

    protected abstract Task RunOnceAsync(IServiceProvider services, CancellationToken ct);

    /// <summary>Run now instead of waiting for the next period (e.g. a webhook just arrived).</summary>
    public void Wake()
    {
        if (wake.CurrentCount == 0)
        {
            try { wake.Release(); } catch (SemaphoreFullException) { }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await RunOnceAsync(scope.ServiceProvider, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "{Job} failed; it runs again in {Interval}", GetType().Name, Interval);
            }
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var delay = Task.Delay(Interval, clock, timeout.Token);
                var woken = wake.WaitAsync(timeout.Token);
                await Task.WhenAny(delay, woken);
                await timeout.CancelAsync();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }
}
