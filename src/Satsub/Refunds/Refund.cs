using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Payments;

namespace Satsub.Refunds;

/// <summary>A refund of one settled invoice, recorded once (the invoice id is unique here).</summary>
public sealed class Refund
{
    public Guid Id { get; set; }
    public Guid InvoiceId { get; set; }
    public long AmountSats { get; set; }
    public long CommissionReversedSats { get; set; }
    /// <summary>True when the commission was already withdrawable or paid: the affiliate's balance went negative.</summary>
    public bool ClawedBackFromAvailable { get; set; }
    public string Reason { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public Guid PostingId { get; set; }
}

internal sealed class RefundConfiguration : IEntityTypeConfiguration<Refund>
{
    public void Configure(EntityTypeBuilder<Refund> b)
    {
        b.ToTable("refunds");
        b.HasKey(r => r.Id);
        b.Property(r => r.Reason).HasMaxLength(500).IsRequired();
        b.HasIndex(r => r.InvoiceId).IsUnique();
        b.HasOne<Invoice>().WithMany().HasForeignKey(r => r.InvoiceId).OnDelete(DeleteBehavior.Restrict);
    }
}
