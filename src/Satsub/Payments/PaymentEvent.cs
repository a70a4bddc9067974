using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Payments;

/// <summary>
/// An inbound notification from a payment provider, recorded by its natural id before it acts:
/// a second delivery of the same (provider, event id) finds the row and changes nothing.
/// </summary>
public sealed class PaymentEvent
{
    public long Id { get; set; }
    public string Provider { get; set; } = "";
    public string EventId { get; set; } = "";
    public Guid? InvoiceId { get; set; }
    /// <summary>The provider's id of the invoice the notification is about (what the inbox re-fetches).</summary>
    public string? ProviderInvoiceId { get; set; }
    public string Kind { get; set; } = "";
    /// <summary>Processing attempts so far; a failed re-fetch is retried with backoff from <see cref="NextAttemptAt"/>.</summary>
    public int Attempts { get; set; }
    public DateTimeOffset? NextAttemptAt { get; set; }
    public DateTimeOffset ReceivedAt { get; set; }
    public DateTimeOffset? ProcessedAt { get; set; }
    public string? Outcome { get; set; }
}

internal sealed class PaymentEventConfiguration : IEntityTypeConfiguration<PaymentEvent>
{
    public void Configure(EntityTypeBuilder<PaymentEvent> b)
    {
        b.ToTable("payment_events");
        b.HasKey(e => e.Id);
        b.Property(e => e.Provider).HasMaxLength(32).IsRequired();
        b.Property(e => e.EventId).HasMaxLength(200).IsRequired();
        b.Property(e => e.Kind).HasMaxLength(64).IsRequired();
        b.Property(e => e.Outcome).HasMaxLength(256);
        b.Property(e => e.ProviderInvoiceId).HasMaxLength(128);
        b.HasIndex(e => new { e.ProcessedAt, e.NextAttemptAt });
        b.HasIndex(e => new { e.Provider, e.EventId }).IsUnique();
        b.HasIndex(e => e.InvoiceId);
    }
}
