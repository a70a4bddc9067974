using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Transparency;

/// <summary>
/// A closed month's report, stored once when the month closed, so it never changes afterwards (even if the code that
/// builds reports does). The canonical CSV is the report; the JSON form is read back from it.
/// </summary>
public sealed class ClosedReport
{
    /// <summary><c>yyyy-MM</c>.</summary>
    public string Month { get; set; } = "";
    public string Csv { get; set; } = "";
    /// <summary>Lower-case hex SHA-256 of the UTF-8 bytes of <see cref="Csv"/>.</summary>
    public string Sha256 { get; set; } = "";
    public DateTimeOffset ClosedAt { get; set; }
    public string? SignatureAddress { get; set; }
    public string? SignatureScheme { get; set; }
    public string? SignatureMessage { get; set; }
    public string? Signature { get; set; }
    public DateTimeOffset? SignedAt { get; set; }
}

internal sealed class ClosedReportConfiguration : IEntityTypeConfiguration<ClosedReport>
{
    public void Configure(EntityTypeBuilder<ClosedReport> b)
    {
        b.ToTable("closed_reports");
        b.HasKey(r => r.Month);
        b.Property(r => r.Month).HasMaxLength(7);
        b.Property(r => r.Csv).IsRequired();
        b.Property(r => r.Sha256).HasMaxLength(64).IsRequired();
        b.Property(r => r.SignatureAddress).HasMaxLength(100);
        b.Property(r => r.SignatureScheme).HasMaxLength(16);
        b.Property(r => r.SignatureMessage).HasMaxLength(200);
        b.Property(r => r.Signature).HasMaxLength(2000);
    }
}
