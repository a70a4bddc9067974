using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Common;
using Satsub.Data;
using Satsub.Subscriptions;
using Satsub.Users;

namespace Satsub.Payments;

public enum InvoiceStatus
{
    New,
    Processing,
    Settled,
    Expired,
    Invalid,
}

public enum PaymentMethod
{
    Lightning,
    Onchain,
}

/// <summary>
/// A request for payment of one subscription period. Price and duration are copied from the plan
/// when the invoice is made, so changing a plan later never changes what an open invoice sells.
/// </summary>
public sealed class Invoice : IVersioned
{
    public Guid Id { get; set; }
    public Guid SubscriptionId { get; set; }
    public Guid UserId { get; set; }
    public string PlanCode { get; set; } = "";
    public int DurationDays { get; set; }
    public string Provider { get; set; } = "";
    public string ProviderInvoiceId { get; set; } = "";
    public PaymentMethod Method { get; set; }
    public long AmountSats { get; set; }
    public decimal? FiatAmount { get; set; }
    public string? FiatCurrency { get; set; }
    /// <summary>Sats per one unit of the fiat currency, as the rate source gave it at invoice time.</summary>
    public decimal? FiatRate { get; set; }
    public string? FiatRateSource { get; set; }
    public string? Bolt11 { get; set; }
    public string? Address { get; set; }
    public string? PaymentUri { get; set; }
    /// <summary>Where to refund the buyer on chain (validated for <c>Bitcoin:Network</c> when given).</summary>
    public string? RefundAddress { get; set; }
    public InvoiceStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public DateTimeOffset? SettledAt { get; set; }
    /// <summary>The subscription period this payment bought (set at settlement).</summary>
    public DateTimeOffset? PeriodStart { get; set; }
    public DateTimeOffset? PeriodEnd { get; set; }
    public Guid? SettlementPostingId { get; set; }
    public uint Version { get; set; }

    public Sats Amount => new(AmountSats);
}

internal sealed class InvoiceConfiguration : IEntityTypeConfiguration<Invoice>
{
    public void Configure(EntityTypeBuilder<Invoice> b)
    {
        b.ToTable("invoices", t => t.HasCheckConstraint("ck_invoices_amount", "amount_sats > 0"));
        b.HasKey(i => i.Id);
        b.Ignore(i => i.Amount);
        b.Property(i => i.PlanCode).HasMaxLength(32).IsRequired();
        b.Property(i => i.Provider).HasMaxLength(32).IsRequired();
        b.Property(i => i.ProviderInvoiceId).HasMaxLength(128).IsRequired();
        b.Property(i => i.Method).HasConversion(EnumNames.Converter<PaymentMethod>()).HasMaxLength(16);
        b.Property(i => i.Status).HasConversion(EnumNames.Converter<InvoiceStatus>()).HasMaxLength(16);
        b.Property(i => i.FiatAmount).HasPrecision(18, 2);
        b.Property(i => i.FiatCurrency).HasMaxLength(3);
        b.Property(i => i.FiatRate).HasPrecision(28, 8);
        b.Property(i => i.FiatRateSource).HasMaxLength(256);
        b.Property(i => i.Bolt11).HasMaxLength(4096);
        b.Property(i => i.Address).HasMaxLength(128);
        b.Property(i => i.PaymentUri).HasMaxLength(4096);
        b.Property(i => i.RefundAddress).HasMaxLength(128);
        b.HasIndex(i => new { i.Provider, i.ProviderInvoiceId }).IsUnique();
        b.HasIndex(i => i.SubscriptionId);
        b.HasIndex(i => new { i.Status, i.ExpiresAt });
        // Reconciliation re-reads settled invoices by the time they settled (Reconciler).
        b.HasIndex(i => new { i.Status, i.SettledAt });
        b.HasOne<Subscription>().WithMany().HasForeignKey(i => i.SubscriptionId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<User>().WithMany().HasForeignKey(i => i.UserId).OnDelete(DeleteBehavior.Restrict);
    }
}
