using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Outbox;

/// <summary>
/// An effect to carry out after a transaction commits (a Telegram message, an invite link, an outgoing
/// webhook). Written in the same transaction as the change that causes it; the dedupe key is unique,
/// so a replayed change cannot queue the same effect twice.
/// </summary>
public sealed class OutboxMessage
{
    public long Id { get; set; }
    public string Type { get; set; } = "";
    public string DedupeKey { get; set; } = "";
    public string Payload { get; set; } = "{}";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset AvailableAt { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public string? LastError { get; set; }
}

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> b)
    {
        b.ToTable("outbox_messages");
        b.HasKey(m => m.Id);
        b.Property(m => m.Type).HasMaxLength(64).IsRequired();
        b.Property(m => m.DedupeKey).HasMaxLength(200).IsRequired();
        b.Property(m => m.Payload).IsRequired();
        b.Property(m => m.LastError).HasMaxLength(1024);
        b.HasIndex(m => m.DedupeKey).IsUnique();
        b.HasIndex(m => new { m.CompletedAt, m.AvailableAt });
    }
}
