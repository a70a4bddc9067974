namespace Satsub.Hosting;

/// <summary>
/// A worker that cannot die: it runs <see cref="RunOnceAsync"/> every <see cref="Interval"/> (on the injected
/// <see cref="TimeProvider"/>, so tests control it) in a fresh DI scope, logs and survives any failure, and
/// can be woken early with <see cref="Wake"/>. <c>Jobs:&lt;JobTypeName&gt;:IntervalSeconds</c> overrides the interval.
/// </summary>
/// <remarks>
/// Work-queue jobs (outbox, inbox, webhook deliveries) run on every instance: their rows are claimed with
/// <c>FOR UPDATE SKIP LOCKED</c>. A scheduled job that must run once per period across all instances sets
/// <see cref="OncePerPeriod"/>: on PostgreSQL it then runs under the <see cref="JobCoordinator"/>'s advisory lock,
/// claims its period in <c>job_runs</c>, and wakes on period boundaries so the instances agree on the periods.
/// </remarks>
public abstract class PeriodicJob(IServiceScopeFactory scopes, TimeProvider clock, ILogger logger) : BackgroundService
{
    private readonly SemaphoreSlim wake = new(0, 1);

    protected abstract TimeSpan Interval { get; }

    /// <summary>True for scheduled jobs that one instance at a time runs, once per period (see remarks).</summary>
    protected virtual bool OncePerPeriod => false;

    protected abstract Task RunOnceAsync(IServiceProvider services, CancellationToken ct);

    private string Name => GetType().Name;

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
        TimeSpan interval;
        TimeSpan startDelay;
        JobCoordinator? coordinator;
        await using (var setup = scopes.CreateAsyncScope())
        {
            var configuration = setup.ServiceProvider.GetService<IConfiguration>();
            var seconds = configuration?.GetValue<double?>($"Jobs:{Name}:IntervalSeconds");
            interval = seconds is > 0 ? TimeSpan.FromSeconds(seconds.Value) : Interval;
            var delay = configuration?.GetValue<double?>("Jobs:StartDelaySeconds");
            startDelay = delay is >= 0 ? TimeSpan.FromSeconds(delay.Value) : StartupGate.DefaultJobStartDelay;
            coordinator = OncePerPeriod ? setup.ServiceProvider.GetService<JobCoordinator>() : null;
            // Nothing runs before the server listens and the database is migrated: the first runs compile many
            // queries, which would compete for the CPU with start-up (and meet no tables on a fresh database).
            try { await StartupGate.WhenServerReadyAsync(setup.ServiceProvider, stoppingToken); }
            catch (Exception)
            {
                return; // stopping, or the database could not be prepared (the host is stopping then too)
            }
        }
        var woken = await WaitAsync(startDelay, stoppingToken);
        if (stoppingToken.IsCancellationRequested) return;
        var coordinated = coordinator?.Coordinates == true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (coordinated) await RunCoordinatedAsync(coordinator!, interval, woken, stoppingToken);
                else await RunInScopeAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "{Job} failed; it runs again in {Interval}", Name, interval);
            }
            // Coordinated jobs wake just after the next period boundary, so every instance tries the same period.
            var now = clock.GetUtcNow();
            woken = await WaitAsync(coordinated ? JobCoordinator.PeriodStart(now, interval) + interval - now + TimeSpan.FromMilliseconds(20) : interval, stoppingToken);
        }
    }

    /// <summary>Sleeps <paramref name="delay"/> or until <see cref="Wake"/>; true when woken.</summary>
    private async Task<bool> WaitAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var sleep = Task.Delay(delay, clock, timeout.Token);
            var wakeUp = wake.WaitAsync(timeout.Token);
            var woken = await Task.WhenAny(sleep, wakeUp) == wakeUp && wakeUp.IsCompletedSuccessfully;
            await timeout.CancelAsync();
            return woken;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task RunInScopeAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        await RunOnceAsync(scope.ServiceProvider, ct);
    }

    private async Task RunCoordinatedAsync(JobCoordinator coordinator, TimeSpan interval, bool woken, CancellationToken ct)
    {
        // A woken run (work just arrived) is exclusive but does not use up the period's scheduled run.
        DateTimeOffset? period = woken ? null : JobCoordinator.PeriodStart(clock.GetUtcNow(), interval);
        await using var lease = await coordinator.TryAcquireAsync(Name, period, ct);
        if (lease is null)
        {
            logger.LogDebug("{Job}: another instance runs it (period {Period})", Name, period);
            return;
        }
        await RunInScopeAsync(ct);
        if (period is { } p)
            logger.LogInformation("{Job} ran for period {Period} on {Instance}", Name, p.ToString("O", System.Globalization.CultureInfo.InvariantCulture), JobCoordinator.Instance);
    }
}
