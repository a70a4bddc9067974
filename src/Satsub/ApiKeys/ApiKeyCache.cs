using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Satsub.Api;

namespace Satsub.ApiKeys;

/// <summary>
/// The live API keys this instance found recently, by public prefix, for <c>Api:KeyCacheSeconds</c> (10 s by default;
/// 0 turns the cache off). Every API request authenticates, and the key's row was the one database round trip every
/// request paid for before its own queries. What is cached is what the database said: the hash still has to match
/// the presented key; unknown, revoked and malformed keys are never cached (each such request reads the row), so a new
/// key works at once and a revoked one is never brought back.
/// </summary>
/// <remarks>
/// Revocation: a key revoked through this instance is evicted at once. Another instance keeps accepting it until its
/// entry expires, at most <c>Api:KeyCacheSeconds</c> after the revocation (docs/security.md). Bounded: only keys that
/// exist and authenticated are cached, one entry per key.
/// </remarks>
public sealed class ApiKeyCache(IOptions<ApiOptions> options, TimeProvider clock)
{
    private readonly TimeSpan ttl = TimeSpan.FromSeconds(options.Value.KeyCacheSeconds);
    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);

    private sealed record Entry(ApiKey Key, DateTimeOffset ExpiresAt);

    public bool Enabled => ttl > TimeSpan.Zero;

    /// <summary>The cached live key with this prefix, or null (not cached, or expired).</summary>
    public ApiKey? Find(string prefix)
    {
        if (!Enabled || !entries.TryGetValue(prefix, out var entry)) return null;
        if (clock.GetUtcNow() < entry.ExpiresAt) return entry.Key;
        entries.TryRemove(KeyValuePair.Create(prefix, entry));
        return null;
    }

    /// <summary>Remembers a key the database just showed live (not revoked).</summary>
    public void Add(ApiKey key)
    {
        if (Enabled && key.RevokedAt is null) entries[key.Prefix] = new Entry(key, clock.GetUtcNow() + ttl);
    }

    /// <summary>Forgets a key (revoked on this instance).</summary>
    public void Evict(string prefix) => entries.TryRemove(prefix, out _);
}
