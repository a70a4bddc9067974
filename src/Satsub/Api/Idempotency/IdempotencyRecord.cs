using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.Api.Idempotency;

/// <summary>
/// The first answer to a request sent with an <c>Idempotency-Key</c>, per API key. The row is inserted before
/// the request runs (the unique key makes concurrent duplicates wait their turn), then completed with the answer.
/// </summary>
public sealed class IdempotencyRecord
{
    public long Id { get; set; }
    public Guid ApiKeyId { get; set; }
    public string Key { get; set; } = "";
    public string Method { get; set; } = "";
    public string Path { get; set; } = "";
    /// <summary>SHA-256 of method, path and raw body: the same key with another request is refused.</summary>
    public byte[] RequestHash { get; set; } = [];
    public int? StatusCode { get; set; }
    public string? ContentType { get; set; }
    public string? Location { get; set; }
    public byte[]? ResponseBody { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
}

internal sealed class IdempotencyRecordConfiguration : IEntityTypeConfiguration<IdempotencyRecord>
{
    public void Configure(EntityTypeBuilder<IdempotencyRecord> b)
    {
        b.ToTable("idempotency_records");
        b.HasKey(r => r.Id);
        b.Property(r => r.Key).HasMaxLength(255).IsRequired();
        b.Property(r => r.Method).HasMaxLength(16).IsRequired();
        b.Property(r => r.Path).HasMaxLength(512).IsRequired();
        b.Property(r => r.RequestHash).HasMaxLength(32).IsRequired();
        b.Property(r => r.ContentType).HasMaxLength(128);
        b.Property(r => r.Location).HasMaxLength(512);
        b.HasIndex(r => new { r.ApiKeyId, r.Key }).IsUnique();
        b.HasIndex(r => r.CreatedAt);
    }
}
