using System.CommandLine;
using Microsoft.Extensions.Options;
using Satsub.Affiliates.Rating;
using Satsub.Data;
using Satsub.Hosting;

namespace Satsub.Affiliates.Standings;

/// <summary>
/// Stores the places of all time and of the current month every 30 s (<c>Jobs:StandingsRankJob:IntervalSeconds</c>).
/// Reads stay exact meanwhile: a place is the stored one corrected by the rows changed since.
/// </summary>
public sealed class StandingsRankJob(IServiceScopeFactory scopes, TimeProvider clock, ILogger<StandingsRankJob> logger)
    : PeriodicJob(scopes, clock, logger)
{
    protected override bool OncePerPeriod => true;

    protected override TimeSpan Interval => TimeSpan.FromSeconds(30);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken ct)
    {
        var db = services.GetRequiredService<SatsubDbContext>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var all = await AffiliateStandings.RankAsync(db, null, now, ct);
        var month = await AffiliateStandings.RankAsync(db, AffiliateStandings.MonthOf(now), now, ct);
        if (all + month > 0) logger.LogDebug("Stored {All} all-time and {Month} monthly places", all, month);
    }
}

/// <summary>
/// At start-up, after the migrations and before the server is ready (requests get 503 until then): rebuilds the
/// standings when there are none yet but referrals exist (after the upgrade that added them, or a bulk load), and
/// rescores them when the rating's weights changed.
/// </summary>
internal static class StandingsStartup
{
    public static async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StandingsStartup).FullName!);
        var db = sp.GetRequiredService<SatsubDbContext>();
        var weights = ScoreWeights.From(sp.GetRequiredService<IOptions<RatingOptions>>().Value);
        if (await AffiliateStandings.NeedsRebuildAsync(db, cancellationToken))
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await AffiliateStandings.RebuildAsync(db, weights, sp.GetRequiredService<TimeProvider>().GetUtcNow(), cancellationToken);
            logger.LogInformation("Rebuilt the affiliate standings from the commissions in {Seconds:0.0} s", watch.Elapsed.TotalSeconds);
            return;
        }
        if (await AffiliateStandings.NeedsScorePlacesAsync(db, cancellationToken))
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await AffiliateStandings.StoreScorePlacesAsync(db, sp.GetRequiredService<TimeProvider>().GetUtcNow(), cancellationToken);
            logger.LogInformation("Stored the leaderboard places per score in {Seconds:0.0} s", watch.Elapsed.TotalSeconds);
        }
        var rescored = await AffiliateStandings.RescoreAsync(db, weights, cancellationToken);
        if (rescored > 0) logger.LogInformation("Rescored {Rows} affiliate standings under the configured rating weights", rescored);
    }
}

public static class StandingsModule
{
    /// <summary>The start-up rebuild check and the rank job (server only; the services are static over the DbContext).</summary>
    public static IHostApplicationBuilder AddAffiliateStandings(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHostedService<StandingsRankJob>();
        return builder;
    }

    /// <summary><c>satsub standings rebuild</c>.</summary>
    public static Command Command(Func<bool, Func<IServiceProvider, CancellationToken, Task<int>>, CancellationToken, Task<int>> withServices)
    {
        var rebuild = new Command("rebuild", "Recompute every affiliate standing (counts, scores, places) from the commissions and users. Safe to repeat; writers wait meanwhile.");
        rebuild.SetAction((_, ct) => withServices(true, async (sp, c) =>
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await AffiliateStandings.RebuildAsync(sp.GetRequiredService<SatsubDbContext>(), ScoreWeights.From(sp.GetRequiredService<IOptions<RatingOptions>>().Value),
                sp.GetRequiredService<TimeProvider>().GetUtcNow(), c);
            Console.Error.WriteLine($"Rebuilt the affiliate standings in {watch.Elapsed.TotalSeconds:0.0} s.");
            return 0;
        }, ct));
        var standings = new Command("standings", "The precomputed affiliate standings behind profiles and the leaderboard.");
        standings.Subcommands.Add(rebuild);
        return standings;
    }
}
