using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Payments;

/// <summary>
/// Where a watcher of a provider resumes (LND's last <c>settle_index</c>, say). Updated in the same transaction
/// as the effect it records, so a restart neither skips nor repeats.
/// </summary>
public sealed class ProviderCursor
{
    public string Provider { get; set; } = "";
    public string Name { get; set; } = "";
    public string Value { get; set; } = "";
    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class ProviderCursorConfiguration : IEntityTypeConfiguration<ProviderCursor>
{
    public void Configure(EntityTypeBuilder<ProviderCursor> b)
    {
        b.ToTable("provider_cursors");
        b.HasKey(c => new { c.Provider, c.Name });
        b.Property(c => c.Provider).HasMaxLength(32);
        b.Property(c => c.Name).HasMaxLength(64);
        b.Property(c => c.Value).HasMaxLength(256).IsRequired();
    }
}
