using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Data;

namespace Satsub.Operations;

/// <summary>
/// Something the owner must look at: a late, partial or over-payment, a webhook for an unknown invoice, a
/// reconciliation mismatch, a clawback, a fraud guard. Recorded with its reason; never acted on by guessing.
/// The dedupe key makes raising the same flag twice a no-op.
/// </summary>
public sealed class AdminFlag
{
    public long Id { get; set; }
    public string Kind { get; set; } = "";
    public string DedupeKey { get; set; } = "";
    public string Subject { get; set; } = "";
    public string Detail { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ResolvedAt { get; set; }
}

internal sealed class AdminFlagConfiguration : IEntityTypeConfiguration<AdminFlag>
{
    public void Configure(EntityTypeBuilder<AdminFlag> b)
    {
        b.ToTable("admin_flags");
        b.HasKey(f => f.Id);
        b.Property(f => f.Kind).HasMaxLength(64).IsRequired();
        b.Property(f => f.DedupeKey).HasMaxLength(200).IsRequired();
        b.Property(f => f.Subject).HasMaxLength(200).IsRequired();
        b.Property(f => f.Detail).HasMaxLength(2000).IsRequired();
        b.HasIndex(f => f.DedupeKey).IsUnique();
        b.HasIndex(f => new { f.ResolvedAt, f.CreatedAt });
    }
}

public static class AdminFlags
{
    /// <summary>Raises a flag unless one with the same dedupe key exists (INSERT … ON CONFLICT DO NOTHING).</summary>
    public static Task RaiseAsync(SatsubDbContext db, string kind, string dedupeKey, string subject, string detail, DateTimeOffset at, CancellationToken ct)
    {
        var created = db.Time(at);
        return db.Database.ExecuteSqlRawAsync(
            "INSERT INTO admin_flags (kind, dedupe_key, subject, detail, created_at) VALUES ({0}, {1}, {2}, {3}, {4}) ON CONFLICT (dedupe_key) DO NOTHING",
            [kind, dedupeKey, subject, detail.Length > 2000 ? detail[..2000] : detail, created], ct);
    }
}
