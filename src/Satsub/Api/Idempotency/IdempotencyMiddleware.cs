using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Satsub.Data;

namespace Satsub.Api.Idempotency;

/// <summary>Marks an endpoint that honours the <c>Idempotency-Key</c> header.</summary>
public sealed class IdempotentAttribute : Attribute;

public static class IdempotencyEndpointExtensions
{
    public static RouteHandlerBuilder Idempotent(this RouteHandlerBuilder endpoint) => endpoint.WithMetadata(new IdempotentAttribute());
}

/// <summary>
/// <c>Idempotency-Key</c>: the same key with the same request returns the first answer (marked
/// <c>Idempotent-Replayed: true</c>); the same key with another request is 422; a duplicate that arrives while
/// the first is still running is 409. Only successful (2xx) answers are kept: after an error the same key can be
/// used again, with the same or a corrected body. Keys are scoped to the API key that sent them.
/// </summary>
internal sealed class IdempotencyMiddleware(RequestDelegate next)
{
    public const string Header = "Idempotency-Key";
    private const int MaxBody = 1024 * 1024;

    public async Task InvokeAsync(HttpContext http, SatsubDbContext db, TimeProvider clock)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<IdempotentAttribute>() is null
            || !http.Request.Headers.TryGetValue(Header, out var values)
            || http.User.KeyId() is not { } apiKeyId)
        {
            await next(http);
            return;
        }

        var key = values.ToString();
        if (key.Length is 0 or > 255 || key.Any(c => c is < ' ' or > '~'))
        {
            await ApiProblems.WriteAsync(http, 400, "invalid_idempotency_key", "Idempotency-Key must be 1-255 printable ASCII characters.");
            return;
        }
        var hash = await HashRequestAsync(http);
        if (hash is null)
        {
            await ApiProblems.WriteAsync(http, 413, "payload_too_large", "The request body is too large.");
            return;
        }

        // A retry usually finds its first answer here; only simultaneous duplicates meet at the unique index.
        if (await db.IdempotencyRecords.AsNoTracking().AnyAsync(r => r.ApiKeyId == apiKeyId && r.Key == key, http.RequestAborted))
        {
            await ReplayAsync(http, db, apiKeyId, key, hash);
            return;
        }

        var record = new IdempotencyRecord
        {
            ApiKeyId = apiKeyId,
            Key = key,
            Method = http.Request.Method,
            Path = Truncate(http.Request.Path.ToString(), 512),
            RequestHash = hash,
            CreatedAt = clock.GetUtcNow(),
        };
        db.IdempotencyRecords.Add(record);
        try
        {
            await db.SaveChangesAsync(http.RequestAborted);
        }
        catch (DbUpdateException ex) when (DbErrors.IsUniqueViolation(ex))
        {
            db.ChangeTracker.Clear();
            await ReplayAsync(http, db, apiKeyId, key, hash);
            return;
        }
        db.Entry(record).State = EntityState.Detached;

        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            await next(http);
        }
        catch
        {
            http.Response.Body = original;
            await db.IdempotencyRecords.Where(r => r.Id == record.Id).ExecuteDeleteAsync(CancellationToken.None);
            throw;
        }
        http.Response.Body = original;

        var status = http.Response.StatusCode;
        var body = buffer.ToArray();
        if (status is < 200 or >= 300)
        {
            await db.IdempotencyRecords.Where(r => r.Id == record.Id).ExecuteDeleteAsync(CancellationToken.None);
        }
        else
        {
            var contentType = http.Response.ContentType;
            var location = http.Response.Headers.Location.ToString();
            var completed = clock.GetUtcNow();
            await db.IdempotencyRecords.Where(r => r.Id == record.Id).ExecuteUpdateAsync(s => s
                .SetProperty(r => r.StatusCode, status)
                .SetProperty(r => r.ContentType, contentType)
                .SetProperty(r => r.Location, location.Length == 0 ? null : location)
                .SetProperty(r => r.ResponseBody, body)
                .SetProperty(r => r.CompletedAt, completed), CancellationToken.None);
        }
        await original.WriteAsync(body, http.RequestAborted);
    }

    private static async Task ReplayAsync(HttpContext http, SatsubDbContext db, Guid apiKeyId, string key, byte[] hash)
    {
        var first = await db.IdempotencyRecords.AsNoTracking().SingleAsync(r => r.ApiKeyId == apiKeyId && r.Key == key, http.RequestAborted);
        if (!CryptographicOperations.FixedTimeEquals(first.RequestHash, hash))
        {
            await ApiProblems.WriteAsync(http, 422, "idempotency_key_reused",
                "This Idempotency-Key was used with a different request: use a new key for a new request.");
            return;
        }
        if (first.CompletedAt is null || first.StatusCode is not { } status)
        {
            http.Response.Headers.RetryAfter = "1";
            await ApiProblems.WriteAsync(http, 409, "idempotency_in_progress", "A request with this Idempotency-Key is still being processed.");
            return;
        }
        http.Response.StatusCode = status;
        if (first.ContentType is { } contentType) http.Response.ContentType = contentType;
        if (first.Location is { } location) http.Response.Headers.Location = location;
        http.Response.Headers["Idempotent-Replayed"] = "true";
        if (first.ResponseBody is { Length: > 0 } body) await http.Response.Body.WriteAsync(body, http.RequestAborted);
    }

    /// <summary>SHA-256 of method, path and body; null when the body is larger than we keep.</summary>
    private static async Task<byte[]?> HashRequestAsync(HttpContext http)
    {
        http.Request.EnableBuffering(MaxBody);
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hasher.AppendData(Encoding.UTF8.GetBytes(http.Request.Method + " " + http.Request.Path + "\n"));
        var chunk = new byte[16 * 1024];
        long total = 0;
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            total += read;
            if (total > MaxBody) return null;
            hasher.AppendData(chunk, 0, read);
        }
        http.Request.Body.Position = 0;
        return hasher.GetHashAndReset();
    }

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max];
}
