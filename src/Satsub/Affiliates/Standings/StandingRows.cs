using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Affiliates.Standings;

/// <summary>
/// One affiliate's precomputed standing (<c>affiliate_standings</c>): what a profile and the all-time leaderboard show,
/// kept exact by the writers in the transaction of each change (see <see cref="AffiliateStandings"/>). The place is
/// stored by the rank job; rows whose score or visibility changed since are <see cref="RankDirty"/>.
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
    /// <summary>The place the rank job computed; null when not ranked (no sales, hidden, erased, or not ranked yet).</summary>
    public int? StoredRank { get; set; }
    /// <summary>The score (null: not ranked) the rank job counted for this row when it computed the stored places.</summary>
    public long? RankedScore { get; set; }
    /// <summary>Score or visibility changed since the rank job last saw this row.</summary>
    public bool RankDirty { get; set; }
    public DateTimeOffset? RankComputedAt { get; set; }
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
    public int? StoredRank { get; set; }
    public long? RankedScore { get; set; }
    public bool RankDirty { get; set; }
    public DateTimeOffset? RankComputedAt { get; set; }
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
