using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Satsub.Common;
using Satsub.Data;

namespace Satsub.ApiKeys;

/// <summary>
/// Creates, lists, revokes and checks API keys. A key is <c>sk_</c> + 8 public lookup characters + 32 secret
/// characters of base62 (≈190 random bits in all); only its SHA-256 is stored and it is compared in constant time.
/// </summary>
public sealed partial class ApiKeyService(SatsubDbContext db, TimeProvider clock, ApiKeyCache cache)
{
    public const string AdminScope = "admin";
    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private const int PrefixLength = 8;
    private const int SecretLength = 32;

    [GeneratedRegex("^sk_[0-9A-Za-z]{40}$")]
    private static partial Regex KeyShape();

    [GeneratedRegex("^[a-z][a-z0-9_-]{1,31}$")]
    private static partial Regex ScopeShape();

    public static IReadOnlyList<string> ParseScopes(string scopes)
    {
        var list = scopes.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => s.ToLowerInvariant()).Distinct().ToList();
        if (list.Count == 0) throw new DomainException("invalid_scopes", "Give at least one scope: 'admin' or a platform such as 'website'.", 400);
        foreach (var s in list)
            if (!ScopeShape().IsMatch(s)) throw new DomainException("invalid_scopes", $"'{s}' is not a scope: use 'admin' or a platform name (a-z, 0-9, '_', '-').", 400);
        return list;
    }

    public async Task<(ApiKey Key, string Plaintext)> CreateAsync(string name, string scopes, CancellationToken ct)
    {
        name = name.Trim();
        if (name.Length is 0 or > 100) throw new DomainException("invalid_name", "A key's name is 1-100 characters.", 400);
        var scopeList = ParseScopes(scopes);
        var prefix = RandomNumberGenerator.GetString(Base62, PrefixLength);
        var plaintext = "sk_" + prefix + RandomNumberGenerator.GetString(Base62, SecretLength);
        var key = new ApiKey
        {
            Id = Guid.CreateVersion7(clock.GetUtcNow()),
            Name = name,
            Prefix = prefix,
            Hash = HashOf(plaintext),
            Scopes = string.Join(',', scopeList),
            CreatedAt = clock.GetUtcNow(),
        };
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(ct);
        return (key, plaintext);
    }

    public Task<List<ApiKey>> ListAsync(CancellationToken ct) =>
        db.ApiKeys.AsNoTracking().OrderBy(k => k.CreatedAt).ToListAsync(ct);

    /// <summary>Revokes a key; revoking it again changes nothing. False when no such key exists.</summary>
    public async Task<bool> RevokeAsync(Guid id, CancellationToken ct)
    {
        var key = await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id, ct);
        if (key is null) return false;
        key.RevokedAt ??= clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        cache.Evict(key.Prefix);
        return true;
    }

    /// <summary>
    /// The live key matching the presented secret, or null (unknown, revoked and malformed look alike). A key found live
    /// is cached for a few seconds (<see cref="ApiKeyCache"/>); the hash is compared on every call.
    /// </summary>
    public async Task<ApiKey?> AuthenticateAsync(string? presented, CancellationToken ct)
    {
        if (presented is null || !KeyShape().IsMatch(presented)) return null;
        var prefix = presented.Substring(3, PrefixLength);
        var key = cache.Find(prefix);
        if (key is null)
        {
            key = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Prefix == prefix, ct);
            if (key is null || key.RevokedAt is not null) return null;
            if (!CryptographicOperations.FixedTimeEquals(key.Hash, HashOf(presented))) return null;
            cache.Add(key);
            return key;
        }
        return CryptographicOperations.FixedTimeEquals(key.Hash, HashOf(presented)) ? key : null;
    }

    private static byte[] HashOf(string plaintext) => SHA256.HashData(Encoding.UTF8.GetBytes(plaintext));
}
