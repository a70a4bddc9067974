using System.ComponentModel;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Satsub.Admin;
using Satsub.Api;

namespace Satsub.ApiKeys;

public sealed record CreateApiKeyRequest(
    [property: Description("Who uses the key (1-100 characters).")] string? Name,
    [property: Description("'admin', or platform names: a comma-separated string (as in the CLI) or an array.")] JsonElement? Scopes);

public sealed record ApiKeyView(string Id, string Name, IReadOnlyList<string> Scopes,
    [property: Description("The key's public start (sk_XXXXXXXX…), to recognise it.")] string Prefix,
    DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

public sealed record ApiKeyCreated(string Id, string Name, IReadOnlyList<string> Scopes, string Prefix, DateTimeOffset CreatedAt,
    [property: Description("The key itself: shown once, store it now. Only its hash is kept.")] string Key);

/// <summary><c>/api/v1/admin/api-keys</c>: the CLI's <c>satsub apikey create|list|revoke</c> over HTTP.</summary>
public static class ApiKeysApi
{
    public static RouteGroupBuilder MapApiKeysApi(this RouteGroupBuilder api)
    {
        var keys = api.MapGroup("/admin/api-keys").WithTags("Admin").RequireAuthorization(ApiCaller.AdminPolicy);
        keys.MapPost("/", CreateAsync).WithSummary("Create an API key (shown once)").ProducesProblem(400);
        keys.MapGet("/", ListAsync).WithSummary("List API keys (never the keys themselves)");
        keys.MapDelete("/{id}", RevokeAsync).WithSummary("Revoke an API key at once").ProducesProblem(404);
        return api;
    }

    private static async Task<Results<Created<ApiKeyCreated>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateApiKeyRequest body, ApiKeyService service, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        var errors = new FieldErrors();
        var name = errors.Text("name", body.Name, 100, required: true);
        var scopeList = body.Scopes switch
        {
            { ValueKind: JsonValueKind.String } s => [s.StringOrNull()],
            { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() is > 0 and <= 16 => a.EnumerateArray().Select(e => e.StringOrNull()).ToList(),
            _ => new List<string?>(),
        };
        var scopes = scopeList.Count == 0 || scopeList.Any(x => x is null)
            ? null
            : errors.Text("scopes", string.Join(',', scopeList), 256, required: true);
        if (scopes is null && !errors.Any) errors.Add("scopes", "is required: 'admin' or platform names, as a string or an array of (at most 16) strings.");
        if (errors.Any) return ApiProblems.Validation(errors.ToDictionary());
        var (key, plaintext) = await service.CreateAsync(name!, scopes!, ct);
        await audit.RecordAsync(http, "api_key.create", key.Id.ToString("D"), $"name={key.Name}; scopes={key.Scopes}");
        return TypedResults.Created($"/api/v1/admin/api-keys/{key.Id:D}",
            new ApiKeyCreated(key.Id.ToString("D"), key.Name, key.ScopeList, "sk_" + key.Prefix, key.CreatedAt, plaintext));
    }

    private static async Task<Ok<List<ApiKeyView>>> ListAsync(ApiKeyService service, CancellationToken ct) =>
        TypedResults.Ok((await service.ListAsync(ct))
            .Select(k => new ApiKeyView(k.Id.ToString("D"), k.Name, k.ScopeList, "sk_" + k.Prefix, k.CreatedAt, k.RevokedAt)).ToList());

    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        [FromRoute] string id, ApiKeyService service, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (id.Length > 64 || !Guid.TryParse(id, out var keyId) || !await service.RevokeAsync(keyId, ct))
            return ApiProblems.NotFound("api_key_not_found", "No such API key.");
        await audit.RecordAsync(http, "api_key.revoke", keyId.ToString("D"));
        return TypedResults.NoContent();
    }
}
