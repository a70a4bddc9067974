using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Api;
using Satsub.Data;

namespace Satsub.Admin;

/// <summary>One admin action: which key did what to which target, when and from where. Append-only.</summary>
public sealed class AuditEntry
{
    public long Id { get; set; }
    public Guid? ApiKeyId { get; set; }
    public string? ApiKeyName { get; set; }
    public string Action { get; set; } = "";
    public string? Target { get; set; }
    public string? Details { get; set; }
    public string? RemoteIp { get; set; }
    public DateTimeOffset At { get; set; }
}

internal sealed class AuditEntryConfiguration : IEntityTypeConfiguration<AuditEntry>
{
    public void Configure(EntityTypeBuilder<AuditEntry> b)
    {
        b.ToTable("audit_log");
        b.HasKey(a => a.Id);
        b.Property(a => a.ApiKeyName).HasMaxLength(100);
        b.Property(a => a.Action).HasMaxLength(64).IsRequired();
        b.Property(a => a.Target).HasMaxLength(128);
        b.Property(a => a.Details).HasMaxLength(1024);
        b.Property(a => a.RemoteIp).HasMaxLength(64);
        b.HasIndex(a => a.At);
    }
}

/// <summary>Writes the audit log. Entries are only ever added.</summary>
public sealed class AuditLog(SatsubDbContext db, TimeProvider clock)
{
    public async Task RecordAsync(HttpContext http, string action, string? target, string? details = null)
    {
        db.AuditEntries.Add(new AuditEntry
        {
            ApiKeyId = http.User.KeyId(),
            ApiKeyName = http.User.FindFirstValue(ClaimTypes.Name),
            Action = action,
            Target = target,
            Details = details is { Length: > 1024 } ? details[..1024] : details,
            RemoteIp = http.Connection.RemoteIpAddress?.ToString(),
            At = clock.GetUtcNow(),
        });
        // The action has happened: its record must be written even if the client has gone.
        await db.SaveChangesAsync(CancellationToken.None);
    }
}
