using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Satsub.ApiKeys;

/// <summary>
/// An integrator's key. Only a SHA-256 hash of the key is stored (the key has ≥128 random bits, so a fast
/// hash is enough); the short public prefix finds the row without comparing hashes across the table.
/// </summary>
public sealed class ApiKey
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public string Prefix { get; set; } = "";
    public byte[] Hash { get; set; } = [];
    /// <summary>Comma-separated: <c>admin</c>, or platform names such as <c>website</c>.</summary>
    public string Scopes { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }

    public IReadOnlyList<string> ScopeList => Scopes.Split(',', StringSplitOptions.RemoveEmptyEntries);
}

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> b)
    {
        b.ToTable("api_keys");
        b.HasKey(k => k.Id);
        b.Ignore(k => k.ScopeList);
        b.Property(k => k.Name).HasMaxLength(100).IsRequired();
        b.Property(k => k.Prefix).HasMaxLength(16).IsRequired();
        b.Property(k => k.Hash).HasMaxLength(32).IsRequired();
        b.Property(k => k.Scopes).HasMaxLength(256).IsRequired();
        b.HasIndex(k => k.Prefix).IsUnique();
    }
}
