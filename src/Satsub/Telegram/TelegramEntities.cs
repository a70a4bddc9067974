using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Data;
using Satsub.Users;

namespace Satsub.Telegram;

/// <summary>An update already handled: a redelivered update (after a crash or by Telegram) changes nothing.</summary>
public sealed class TelegramUpdateRecord
{
    public long UpdateId { get; set; }
    public DateTimeOffset ReceivedAt { get; set; }
    /// <summary>Null when the handler succeeded; otherwise the exception type (the user got an apology).</summary>
    public string? Error { get; set; }
}

public enum TelegramSendStatus
{
    Pending,
    Sent,
    Failed,
    Dropped,
}

/// <summary>
/// One call to the Bot API queued by a handler or an event consumer, delivered by <see cref="TelegramSender"/> within
/// Telegram's limits. The dedupe key is unique, so a replayed event or update cannot send twice.
/// </summary>
public sealed class TelegramSend
{
    public long Id { get; set; }
    public string DedupeKey { get; set; } = "";
    public long ChatId { get; set; }
    public string Kind { get; set; } = "";
    public string Payload { get; set; } = "{}";
    public TelegramSendStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset AvailableAt { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset? SentAt { get; set; }
    /// <summary>The message Telegram created (for later edits, e.g. the invoice turning "Paid").</summary>
    public long? MessageId { get; set; }
    public string? LastError { get; set; }
}

/// <summary>
/// A rate budget shared by every instance: how many sends a bucket (the bot, or one chat) used in the current
/// one-second window. Updated with one atomic upsert, so instances never overspend together.
/// </summary>
public sealed class TelegramRateWindow
{
    public string Bucket { get; set; } = "";
    public long WindowSecond { get; set; }
    public int Used { get; set; }
}

/// <summary>The bot's view of a Satsub user: their private chat, settings and terms acceptance.</summary>
public sealed class TelegramUser
{
    public Guid UserId { get; set; }
    public long ChatId { get; set; }
    public bool MuteReminders { get; set; }
    public bool MuteEarnings { get; set; }
    /// <summary>Set when Telegram answered 403 (the user blocked the bot): nothing more is sent until they write again.</summary>
    public DateTimeOffset? UnreachableAt { get; set; }
    public string? TermsVersion { get; set; }
    public DateTimeOffset? TermsAcceptedAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

internal sealed class TelegramUpdateRecordConfiguration : IEntityTypeConfiguration<TelegramUpdateRecord>
{
    public void Configure(EntityTypeBuilder<TelegramUpdateRecord> b)
    {
        b.ToTable("telegram_updates");
        b.HasKey(u => u.UpdateId);
        b.Property(u => u.UpdateId).ValueGeneratedNever();
        b.Property(u => u.Error).HasMaxLength(256);
    }
}

internal sealed class TelegramSendConfiguration : IEntityTypeConfiguration<TelegramSend>
{
    public void Configure(EntityTypeBuilder<TelegramSend> b)
    {
        b.ToTable("telegram_sends");
        b.HasKey(s => s.Id);
        b.Property(s => s.DedupeKey).HasMaxLength(200).IsRequired();
        b.Property(s => s.Kind).HasMaxLength(32).IsRequired();
        b.Property(s => s.Payload).IsRequired();
        b.Property(s => s.Status).HasConversion(EnumNames.Converter<TelegramSendStatus>()).HasMaxLength(16);
        b.Property(s => s.LastError).HasMaxLength(512);
        b.HasIndex(s => s.DedupeKey).IsUnique();
        b.HasIndex(s => new { s.Status, s.AvailableAt });
        b.HasIndex(s => s.ChatId);
    }
}

internal sealed class TelegramRateWindowConfiguration : IEntityTypeConfiguration<TelegramRateWindow>
{
    public void Configure(EntityTypeBuilder<TelegramRateWindow> b)
    {
        b.ToTable("telegram_rate_windows");
        b.HasKey(r => r.Bucket);
        b.Property(r => r.Bucket).HasMaxLength(96);
    }
}

internal sealed class TelegramUserConfiguration : IEntityTypeConfiguration<TelegramUser>
{
    public void Configure(EntityTypeBuilder<TelegramUser> b)
    {
        b.ToTable("telegram_users");
        b.HasKey(u => u.UserId);
        b.Property(u => u.TermsVersion).HasMaxLength(64);
        b.HasIndex(u => u.ChatId).IsUnique();
        b.HasOne<User>().WithMany().HasForeignKey(u => u.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}
