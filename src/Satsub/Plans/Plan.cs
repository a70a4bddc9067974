using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Plans;

/// <summary>A subscription type: what it costs, how long it lasts and which chats it grants.</summary>
public sealed class Plan
{
    public const string FromConfiguration = "config";
    public const string FromAdmin = "admin";

    public string Code { get; set; } = "";
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    /// <summary>The price in sats, or null when the plan is priced in fiat.</summary>
    public long? PriceSats { get; set; }
    public decimal? FiatAmount { get; set; }
    public string? FiatCurrency { get; set; }
    public int DurationDays { get; set; }
    public List<string> Chats { get; set; } = [];
    public bool Active { get; set; } = true;
    /// <summary>Where the plan is defined: configuration wins at each start for the plans it names.</summary>
    public string Source { get; set; } = FromConfiguration;
    public DateTimeOffset UpdatedAt { get; set; }
}

internal sealed class PlanConfiguration : IEntityTypeConfiguration<Plan>
{
    public void Configure(EntityTypeBuilder<Plan> b)
    {
        b.ToTable("plans", t =>
        {
            t.HasCheckConstraint("ck_plans_price", "(price_sats IS NOT NULL AND price_sats > 0) OR (fiat_amount IS NOT NULL AND fiat_currency IS NOT NULL)");
            t.HasCheckConstraint("ck_plans_duration", "duration_days > 0");
        });
        b.HasKey(p => p.Code);
        b.Property(p => p.Code).HasMaxLength(32);
        b.Property(p => p.Name).HasMaxLength(128).IsRequired();
        b.Property(p => p.Description).HasMaxLength(2048).IsRequired();
        b.Property(p => p.FiatAmount).HasPrecision(18, 2);
        b.Property(p => p.FiatCurrency).HasMaxLength(3);
        b.Property(p => p.Source).HasMaxLength(16).IsRequired();
    }
}
