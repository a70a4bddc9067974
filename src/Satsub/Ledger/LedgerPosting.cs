using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Ledger;

/// <summary>
/// One balanced movement of money: its entries sum to zero. Postings are append-only; a correction
/// is a new posting. The idempotency key (<c>settle:{provider}:{invoice}</c>, <c>payout:{id}</c>…) is unique,
/// so the same business event can never be booked twice.
/// </summary>
public sealed class LedgerPosting
{
    public Guid Id { get; set; }
    public string IdempotencyKey { get; set; } = "";
    public string Kind { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public Guid? InvoiceId { get; set; }
    /// <summary>For a sale: the affiliate's rate in basis points and tier at settlement time.</summary>
    public int? RateBps { get; set; }
    public string? TierName { get; set; }
    public List<LedgerEntry> Entries { get; set; } = [];
}

/// <summary>One side of a posting: a signed amount on one account. Positive means the account holds more.</summary>
public sealed class LedgerEntry
{
    public long Id { get; set; }
    public Guid PostingId { get; set; }
    public string Account { get; set; } = "";
    public long AmountSats { get; set; }
}

internal sealed class LedgerPostingConfiguration : IEntityTypeConfiguration<LedgerPosting>
{
    public void Configure(EntityTypeBuilder<LedgerPosting> b)
    {
        b.ToTable("ledger_postings");
        b.HasKey(p => p.Id);
        b.Property(p => p.IdempotencyKey).HasMaxLength(200).IsRequired();
        b.Property(p => p.Kind).HasMaxLength(32).IsRequired();
        b.Property(p => p.TierName).HasMaxLength(64);
        b.HasIndex(p => p.IdempotencyKey).IsUnique();
        b.HasIndex(p => p.InvoiceId);
        b.HasIndex(p => p.CreatedAt);
        b.HasMany(p => p.Entries).WithOne().HasForeignKey(e => e.PostingId).OnDelete(DeleteBehavior.Restrict);
    }
}

internal sealed class LedgerEntryConfiguration : IEntityTypeConfiguration<LedgerEntry>
{
    public void Configure(EntityTypeBuilder<LedgerEntry> b)
    {
        b.ToTable("ledger_entries", t => t.HasCheckConstraint("ck_ledger_entries_nonzero", "amount_sats <> 0"));
        b.HasKey(e => e.Id);
        b.Property(e => e.Account).HasMaxLength(100).IsRequired();
        b.HasIndex(e => new { e.Account, e.AmountSats });
        b.HasIndex(e => e.PostingId);
    }
}
