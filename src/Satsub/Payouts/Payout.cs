using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Data;
using Satsub.Users;

namespace Satsub.Payouts;

public enum PayoutStatus
{
    Requested,
    Approved,
    Sending,
    Sent,
    Failed,
    Rejected,
}

/// <summary>A withdrawal of an affiliate's available commission to their wallet. Written before any money moves.</summary>
public sealed class Payout : IVersioned
{
    public Guid Id { get; set; }
    public Guid UserId { get; set; }
    public long AmountSats { get; set; }
    public long FeeSats { get; set; }
    public string Destination { get; set; } = "";
    public string DestinationType { get; set; } = "";
    public string Provider { get; set; } = "";
    public PayoutStatus Status { get; set; }
    public string? PaymentHash { get; set; }
    public string? Txid { get; set; }
    public string? FailureReason { get; set; }

    /// <summary>The BOLT11 actually paid: the destination itself, or the invoice a Lightning Address gave, stored before paying.</summary>
    public string? Invoice { get; set; }

    /// <summary>What the destination received once sent (the amount, less the fee under the affiliate fee policy).</summary>
    public long? SentSats { get; set; }

    /// <summary>How many times the payout was claimed for sending; each claim is recorded before the provider is called.</summary>
    public int Attempts { get; set; }

    public DateTimeOffset? LastAttemptAt { get; set; }

    /// <summary>For a scheduled payout, its period (<c>daily:2026-01-15</c>, <c>weekly:2026-W03</c>): one payout per affiliate and period.</summary>
    public string? ScheduleKey { get; set; }
    public DateTimeOffset RequestedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public uint Version { get; set; }
}

internal sealed class PayoutConfiguration : IEntityTypeConfiguration<Payout>
{
    public void Configure(EntityTypeBuilder<Payout> b)
    {
        b.ToTable("payouts", t => t.HasCheckConstraint("ck_payouts_amount", "amount_sats > 0 AND fee_sats >= 0"));
        b.HasKey(p => p.Id);
        b.Property(p => p.Destination).HasMaxLength(2048).IsRequired();
        b.Property(p => p.DestinationType).HasMaxLength(32).IsRequired();
        b.Property(p => p.Provider).HasMaxLength(32).IsRequired();
        b.Property(p => p.Status).HasConversion(EnumNames.Converter<PayoutStatus>()).HasMaxLength(16);
        b.Property(p => p.PaymentHash).HasMaxLength(64);
        b.Property(p => p.Txid).HasMaxLength(64);
        b.Property(p => p.FailureReason).HasMaxLength(512);
        b.Property(p => p.Invoice).HasMaxLength(Lightning.Bolt11Invoice.MaxLength);
        // One payment hash pays one payout: the same invoice can never be paid out twice.
        b.HasIndex(p => p.PaymentHash).IsUnique().HasFilter("payment_hash IS NOT NULL");
        b.Property(p => p.ScheduleKey).HasMaxLength(64);
        b.HasIndex(p => new { p.UserId, p.ScheduleKey }).IsUnique().HasFilter("schedule_key IS NOT NULL");
        b.HasIndex(p => new { p.UserId, p.RequestedAt });
        b.HasIndex(p => p.RequestedAt);
        b.HasIndex(p => p.Status);
        b.HasOne<User>().WithMany().HasForeignKey(p => p.UserId).OnDelete(DeleteBehavior.Restrict);
    }
}
