using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Data;
using Satsub.Payments;
using Satsub.Users;

namespace Satsub.Ledger;

public enum CommissionState
{
    Pending,
    Available,
    ClawedBack,
    /// <summary>Held by a fraud guard (see <see cref="Commission.ReviewReason"/>): the hold-release worker leaves it; the admin releases or reverses it.</summary>
    HeldForReview,

    /// <summary>Reversed by the admin after review: the sale stands, the commission went to the owner.</summary>
    Reversed,
}

/// <summary>
/// What the direct referrer earned on one sale. The money itself lives in the ledger; this row says
/// which sale it came from, at which rate, and when the hold ends.
/// </summary>
public sealed class Commission : IVersioned
{
    public Guid Id { get; set; }
    public Guid AffiliateId { get; set; }
    public Guid BuyerId { get; set; }
    public Guid InvoiceId { get; set; }
    public string PlanCode { get; set; } = "";
    public long SaleSats { get; set; }
    public int RateBps { get; set; }
    public string? TierName { get; set; }
    public long AmountSats { get; set; }
    public CommissionState State { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset AvailableAt { get; set; }
    public Guid PostingId { get; set; }

    /// <summary>Why a fraud guard held the commission for review (null when none did).</summary>
    public string? ReviewReason { get; set; }

    public uint Version { get; set; }
}

internal sealed class CommissionConfiguration : IEntityTypeConfiguration<Commission>
{
    public void Configure(EntityTypeBuilder<Commission> b)
    {
        b.ToTable("commissions", t => t.HasCheckConstraint("ck_commissions_amount", "amount_sats >= 0 AND amount_sats <= sale_sats"));
        b.HasKey(c => c.Id);
        b.Property(c => c.PlanCode).HasMaxLength(32).IsRequired();
        b.Property(c => c.TierName).HasMaxLength(64);
        b.Property(c => c.ReviewReason).HasMaxLength(512);
        b.Property(c => c.State).HasConversion(EnumNames.Converter<CommissionState>()).HasMaxLength(24);
        b.HasIndex(c => c.InvoiceId).IsUnique();
        b.HasIndex(c => new { c.AffiliateId, c.CreatedAt });
        b.HasIndex(c => new { c.State, c.AvailableAt });
        b.HasOne<User>().WithMany().HasForeignKey(c => c.AffiliateId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<Invoice>().WithMany().HasForeignKey(c => c.InvoiceId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<LedgerPosting>().WithMany().HasForeignKey(c => c.PostingId).OnDelete(DeleteBehavior.Restrict);
    }
}
