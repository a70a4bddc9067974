using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Data;

namespace Satsub.Users;

/// <summary>
/// A person on one platform (Telegram, Discord, a website…). The referrer is set once, at registration,
/// and never changed: it is the only link the commission rules follow, and they follow it one level only.
/// </summary>
public sealed class User : IVersioned
{
    public const int DisplayNameMaxLength = 32;

    private User() { }

    public User(Guid id, string platform, string? externalId, string? username, string referralCode, Guid? referrerId, DateTimeOffset createdAt)
    {
        if (referrerId == id) throw new ArgumentException("A user cannot refer themselves.", nameof(referrerId));
        Id = id;
        Platform = platform;
        ExternalId = externalId;
        Username = username;
        ReferralCode = referralCode;
        ReferrerId = referrerId;
        CreatedAt = createdAt;
    }

    public Guid Id { get; private set; }
    public string Platform { get; private set; } = "";
    public string? ExternalId { get; private set; }
    public string? Username { get; set; }
    public string? Language { get; set; }
    public Guid? ReferrerId { get; private set; }
    public string ReferralCode { get; private set; } = "";
    public DateTimeOffset CreatedAt { get; private set; }
    public bool HiddenFromLeaderboard { get; set; }
    /// <summary>The name shown on the leaderboard, chosen by the user; without it a pseudonym is shown, never the username.</summary>
    public string? DisplayName { get; set; }
    public string? PayoutDestination { get; set; }
    public DateTimeOffset? ErasedAt { get; private set; }
    public uint Version { get; set; }

    /// <summary>Forgets personal data; the id stays as a pseudonym so the books still balance.</summary>
    public void Erase(DateTimeOffset at)
    {
        Username = null;
        DisplayName = null;
        ExternalId = null;
        PayoutDestination = null;
        ErasedAt = at;
    }
}

internal sealed class UserConfiguration : IEntityTypeConfiguration<User>
{
    public void Configure(EntityTypeBuilder<User> b)
    {
        b.ToTable("users", t => t.HasCheckConstraint("ck_users_not_self_referred", "referrer_id IS NULL OR referrer_id <> id"));
        b.HasKey(u => u.Id);
        b.Property(u => u.Platform).HasMaxLength(32).IsRequired();
        b.Property(u => u.ExternalId).HasMaxLength(128);
        b.Property(u => u.Username).HasMaxLength(64);
        b.Property(u => u.Language).HasMaxLength(16);
        b.Property(u => u.DisplayName).HasMaxLength(User.DisplayNameMaxLength);
        b.Property(u => u.ReferralCode).HasMaxLength(32).IsRequired();
        b.Property(u => u.PayoutDestination).HasMaxLength(2048);
        b.HasIndex(u => u.ReferralCode).IsUnique();
        b.HasIndex(u => new { u.Platform, u.ExternalId }).IsUnique().HasFilter("external_id IS NOT NULL");
        // Platforms without an external id (a website) identify their users by username.
        b.HasIndex(u => new { u.Platform, u.Username }).IsUnique().HasFilter("external_id IS NULL AND username IS NOT NULL AND erased_at IS NULL");
        b.HasIndex(u => u.ReferrerId);
        b.HasOne<User>().WithMany().HasForeignKey(u => u.ReferrerId).OnDelete(DeleteBehavior.Restrict);
    }
}
