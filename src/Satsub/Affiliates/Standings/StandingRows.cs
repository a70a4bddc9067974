using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Affiliates.Standings;

/// <summary>
/// One affiliate's precomputed standing (<c>affiliate_standings</c>): what a profile and the all-time leaderboard show,
/// kept exact by the writers in the transaction of each change (see <see cref="AffiliateStandings"/>). The rank job
/// stores the places per score (<see cref="AffiliateScorePlaceRow"/>) of the <see cref="RankedScore"/>s; rows changed
/// since are <see cref="RankDirty"/>.
/// </summary>
public sealed class AffiliateStandingRow
{
    public Guid AffiliateId { get; set; }
    /// <summary>Users this affiliate referred (erased ones included: the link stays).</summary>
    public int ReferredUsers { get; set; }
    /// <summary>Referred users with at least one settled sale.</summary>
    public int PayingReferrals { get; set; }
    /// <summary>Distinct referred buyers with a sale whose commission was not clawed back or reversed.</summary>
    public int PayingCustomers { get; set; }
    /// <summary>Sales whose commission was not clawed back or reversed.</summary>
    public int Sales { get; set; }
    public long ReferredSalesSats { get; set; }
    /// <summary>The rating's score under the configured weights (<see cref="Rating.RatingOptions"/>).</summary>
    public long Score { get; set; }
    /// <summary>Neither hidden from the leaderboard nor erased.</summary>
    public bool Visible { get; set; }
    /// <summary>Score or visibility may have changed since the rank job last stored places (<see cref="AffiliateScorePlaceRow"/>).</summary>
    public bool RankDirty { get; set; }
    /// <summary>The score the stored places count this row with (null: not counted); only the rank job writes it.</summary>
    public long? RankedScore { get; set; }
}

/// <summary>One affiliate's standing in one calendar month (UTC) of commissions (<c>affiliate_month_standings</c>).</summary>
public sealed class AffiliateMonthStandingRow
{
    public Guid AffiliateId { get; set; }
    /// <summary>The month as <c>yyyymm</c> (202611).</summary>
    public int Month { get; set; }
    public int PayingCustomers { get; set; }
    public int Sales { get; set; }
    public long ReferredSalesSats { get; set; }
    public long Score { get; set; }
    public bool Visible { get; set; }
    public bool RankDirty { get; set; }
    public long? RankedScore { get; set; }
}

/// <summary>
/// The places the rank job stored (<c>affiliate_score_places</c>), per period (<see cref="Month"/> 0: all time) and
/// score rather than per affiliate: a few hundred rows however many affiliates there are, and a change of one score
/// rewrites these rows, not the places of the hundreds of thousands of affiliates below it. Built from the standings'
/// <c>ranked_score</c>s: <see cref="Place"/> is 1 + the ranked affiliates scoring more, <see cref="Affiliates"/> those
/// scoring exactly <see cref="Score"/>.
/// </summary>
public sealed class AffiliateScorePlaceRow
{
    public int Month { get; set; }
    public long Score { get; set; }
    public int Place { get; set; }
    public int Affiliates { get; set; }
    public DateTimeOffset ComputedAt { get; set; }
}

/// <summary>Per affiliate and referred buyer: sales settled and still counted; makes "distinct customers" an exact counter.</summary>
public sealed class AffiliateCustomerRow
{
    public Guid AffiliateId { get; set; }
    public Guid BuyerId { get; set; }
    public int SettledSales { get; set; }
    public int CountedSales { get; set; }
}

/// <summary>Per affiliate, month and buyer: sales of that month still counted.</summary>
public sealed class AffiliateMonthCustomerRow
{
    public Guid AffiliateId { get; set; }
    public int Month { get; set; }
    public Guid BuyerId { get; set; }
    public int CountedSales { get; set; }
}

internal sealed class AffiliateStandingRowConfiguration : IEntityTypeConfiguration<AffiliateStandingRow>
{
    public void Configure(EntityTypeBuilder<AffiliateStandingRow> b)
    {
        b.ToTable("affiliate_standings");
        b.HasKey(s => s.AffiliateId);
        // The leaderboard's order: the top N is an index read; "how many score higher" an index range count.
        b.HasIndex(s => new { s.Visible, s.Score, s.PayingCustomers, s.ReferredSalesSats, s.AffiliateId })
            .IsDescending(false, true, true, true, false);
        // The few rows changed since the rank job ran: the profile corrects stored places with them.
        b.HasIndex(s => s.Score).HasFilter("rank_dirty").HasDatabaseName("ix_affiliate_standings_dirty");
        // The same rows by the score the stored places counted them with (the read takes those out again).
        b.HasIndex(s => s.RankedScore).HasFilter("rank_dirty").HasDatabaseName("ix_affiliate_standings_dirty_ranked");
    }
}

internal sealed class AffiliateMonthStandingRowConfiguration : IEntityTypeConfiguration<AffiliateMonthStandingRow>
{
    public void Configure(EntityTypeBuilder<AffiliateMonthStandingRow> b)
    {
        b.ToTable("affiliate_month_standings");
        b.HasKey(s => new { s.AffiliateId, s.Month });
        b.HasIndex(s => new { s.Month, s.Visible, s.Score, s.PayingCustomers, s.ReferredSalesSats, s.AffiliateId })
            .IsDescending(false, false, true, true, true, false);
        b.HasIndex(s => new { s.Month, s.Score }).HasFilter("rank_dirty").HasDatabaseName("ix_affiliate_month_standings_dirty");
        b.HasIndex(s => new { s.Month, s.RankedScore }).HasFilter("rank_dirty").HasDatabaseName("ix_affiliate_month_standings_dirty_ranked");
    }
}

internal sealed class AffiliateScorePlaceRowConfiguration : IEntityTypeConfiguration<AffiliateScorePlaceRow>
{
    public void Configure(EntityTypeBuilder<AffiliateScorePlaceRow> b)
    {
        b.ToTable("affiliate_score_places");
        b.HasKey(p => new { p.Month, p.Score });
    }
}

internal sealed class AffiliateCustomerRowConfiguration : IEntityTypeConfiguration<AffiliateCustomerRow>
{
    public void Configure(EntityTypeBuilder<AffiliateCustomerRow> b)
    {
        b.ToTable("affiliate_customers");
        b.HasKey(c => new { c.AffiliateId, c.BuyerId });
    }
}

internal sealed class AffiliateMonthCustomerRowConfiguration : IEntityTypeConfiguration<AffiliateMonthCustomerRow>
{
    public void Configure(EntityTypeBuilder<AffiliateMonthCustomerRow> b)
    {
        b.ToTable("affiliate_month_customers");
        b.HasKey(c => new { c.AffiliateId, c.Month, c.BuyerId });
    }
}
