using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Data;
using Satsub.Plans;
using Satsub.Users;

namespace Satsub.Subscriptions;

public enum SubscriptionStatus
{
    PendingPayment,
    Active,
    Expired,
    Canceled,
}

/// <summary>A user's access to one plan. Each settled invoice extends it; renewing while active extends from the current expiry.</summary>
public sealed class Subscription : IVersioned
{
    private Subscription() { }

    public Subscription(Guid id, Guid userId, string planCode, DateTimeOffset createdAt)
    {
        Id = id;
        UserId = userId;
        PlanCode = planCode;
        CreatedAt = createdAt;
        Status = SubscriptionStatus.PendingPayment;
    }

    public Guid Id { get; private set; }
    public Guid UserId { get; private set; }
    public string PlanCode { get; private set; } = "";
    public SubscriptionStatus Status { get; private set; }
    public DateTimeOffset CreatedAt { get; private set; }
    public DateTimeOffset? StartsAt { get; private set; }
    public DateTimeOffset? ExpiresAt { get; private set; }
    public uint Version { get; set; }

    public bool IsActiveAt(DateTimeOffset now) => Status == SubscriptionStatus.Active && ExpiresAt > now;

    /// <summary>
    /// Adds a paid period. While active the period starts at the current expiry, otherwise now.
    /// Returns the period bought, so a refund can later take back exactly that.
    /// </summary>
    public (DateTimeOffset From, DateTimeOffset To) Extend(TimeSpan period, DateTimeOffset now)
    {
        var from = IsActiveAt(now) ? ExpiresAt!.Value : now;
        if (!IsActiveAt(now)) StartsAt = now;
        ExpiresAt = from + period;
        Status = SubscriptionStatus.Active;
        return (from, ExpiresAt.Value);
    }

    /// <summary>Marks a lapsed subscription expired; true when it changed.</summary>
    public bool MarkExpired(DateTimeOffset now)
    {
        if (Status != SubscriptionStatus.Active || ExpiresAt > now) return false;
        Status = SubscriptionStatus.Expired;
        return true;
    }

    /// <summary>Takes a refunded period back. Returns true when that ends the subscription now.</summary>
    public bool Shorten(TimeSpan period, DateTimeOffset now)
    {
        if (ExpiresAt is not { } expires) return false;
        var shortened = expires - period;
        if (shortened > now)
        {
            ExpiresAt = shortened;
            return false;
        }
        var wasActive = IsActiveAt(now);
        ExpiresAt = now < expires ? now : expires;
        Status = SubscriptionStatus.Expired;
        return wasActive;
    }
}

internal sealed class SubscriptionConfiguration : IEntityTypeConfiguration<Subscription>
{
    public void Configure(EntityTypeBuilder<Subscription> b)
    {
        b.ToTable("subscriptions");
        b.HasKey(s => s.Id);
        b.Property(s => s.PlanCode).HasMaxLength(32).IsRequired();
        b.Property(s => s.Status).HasConversion(EnumNames.Converter<SubscriptionStatus>()).HasMaxLength(24);
        b.HasIndex(s => new { s.UserId, s.PlanCode });
        b.HasIndex(s => new { s.Status, s.ExpiresAt });
        b.HasOne<User>().WithMany().HasForeignKey(s => s.UserId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<Plan>().WithMany().HasForeignKey(s => s.PlanCode).OnDelete(DeleteBehavior.Restrict);
    }
}
