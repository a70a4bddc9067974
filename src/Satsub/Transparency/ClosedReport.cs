using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Transparency;

/// <summary>
/// A closed month's report, stored once when the month closed, so it never changes afterwards (even if the code that
/// builds reports does). The canonical CSV is the report, stored in <see cref="ClosedReportPart"/>s; the JSON form's rows are
/// read back from it and its totals from the columns here.
/// </summary>
public sealed class ClosedReport
{
    /// <summary><c>yyyy-MM</c>.</summary>
    public string Month { get; set; } = "";
    /// <summary>Lower-case hex SHA-256 of the UTF-8 bytes of the CSV (its parts joined in order).</summary>
    public string Sha256 { get; set; } = "";
    public DateTimeOffset ClosedAt { get; set; }
    public string? SignatureAddress { get; set; }
    public string? SignatureScheme { get; set; }
    public string? SignatureMessage { get; set; }
    public string? Signature { get; set; }
    public DateTimeOffset? SignedAt { get; set; }

    // The rows and totals, summed when the month closed. Null only for a report stored before they were kept (in one CSV
    // column): they are then summed once from its parts on first read.
    public long? RowCount { get; set; }
    public int? SalesCount { get; set; }
    public long? SalesSats { get; set; }
    public int? RefundsCount { get; set; }
    public long? RefundsSats { get; set; }
    public long? OwnerShareSats { get; set; }
    public long? CommissionsAccruedSats { get; set; }
    public int? PayoutsCount { get; set; }
    public long? PayoutsSats { get; set; }
    public long? PayoutFeesSats { get; set; }
    public long? AffiliateBalanceChangeSats { get; set; }

    public ReportTotals? Totals => RowCount is null ? null : new ReportTotals(SalesCount!.Value, SalesSats!.Value, RefundsCount!.Value, RefundsSats!.Value,
        OwnerShareSats!.Value, CommissionsAccruedSats!.Value, PayoutsCount!.Value, PayoutsSats!.Value, PayoutFeesSats!.Value, AffiliateBalanceChangeSats!.Value);

    public void SetTotals(long rows, ReportTotals t)
    {
        RowCount = rows;
        (SalesCount, SalesSats, RefundsCount, RefundsSats, OwnerShareSats, CommissionsAccruedSats) =
            (t.SalesCount, t.SalesSats, t.RefundsCount, t.RefundsSats, t.OwnerShareSats, t.CommissionsAccruedSats);
        (PayoutsCount, PayoutsSats, PayoutFeesSats, AffiliateBalanceChangeSats) = (t.PayoutsCount, t.PayoutsSats, t.PayoutFeesSats, t.AffiliateBalanceChangeSats);
    }
}

/// <summary>
/// One piece of a closed report's canonical CSV: the pieces of a month, joined in <see cref="Sequence"/> order, are the CSV
/// byte for byte. Parts written when a month closes hold whole lines, about <see cref="ReportWriter.PartChars"/> characters;
/// parts cut by the migration from a report stored whole may split a line (readers join the pieces before parsing).
/// </summary>
public sealed class ClosedReportPart
{
    public string Month { get; set; } = "";
    public int Sequence { get; set; }
    public string Text { get; set; } = "";
}

internal sealed class ClosedReportConfiguration : IEntityTypeConfiguration<ClosedReport>
{
    public void Configure(EntityTypeBuilder<ClosedReport> b)
    {
        b.ToTable("closed_reports");
        b.HasKey(r => r.Month);
        b.Property(r => r.Month).HasMaxLength(7);
        b.Property(r => r.Sha256).HasMaxLength(64).IsRequired();
        b.Property(r => r.SignatureAddress).HasMaxLength(100);
        b.Property(r => r.SignatureScheme).HasMaxLength(16);
        b.Property(r => r.SignatureMessage).HasMaxLength(200);
        b.Property(r => r.Signature).HasMaxLength(2000);
        b.Ignore(r => r.Totals);
        b.HasMany<ClosedReportPart>().WithOne().HasForeignKey(p => p.Month).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class ClosedReportPartConfiguration : IEntityTypeConfiguration<ClosedReportPart>
{
    public void Configure(EntityTypeBuilder<ClosedReportPart> b)
    {
        b.ToTable("closed_report_parts");
        b.HasKey(p => new { p.Month, p.Sequence });
        b.Property(p => p.Month).HasMaxLength(7);
        b.Property(p => p.Text).IsRequired();
    }
}
