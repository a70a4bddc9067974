using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Satsub.Admin;
using Satsub.Api.Idempotency;
using Satsub.ApiKeys;
using Satsub.Payments;
using Satsub.Plans;
using Satsub.Referrals;
using Satsub.Subscriptions;
using Satsub.Users;
using Scalar.AspNetCore;

using Satsub.Payouts;

namespace Satsub.Api;

/// <summary>
/// The REST API's plumbing: API-key authentication and scopes, snake_case JSON, problem details, per-key rate
/// limits, Idempotency-Key, and the OpenAPI document with its browsable page. Each feature maps its own endpoints.
/// </summary>
public static class ApiModule
{
    public const string RateLimitPolicy = "per_key";

    public static IHostApplicationBuilder AddSatsubApi(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>();
        services.AddOptions<GenericWebhookOptions>().BindConfiguration(GenericWebhookOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GenericWebhookOptions>, GenericWebhookOptionsValidator>();
        services.AddScoped<AuditLog>();
        services.AddScoped<ReferralLinks>();

        services.ConfigureHttpJsonOptions(o => Configure(o.SerializerOptions));
        // Malformed JSON and wrong types throw, so the exception handler answers them as problem details.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ApiProblems.Customize);
        services.AddExceptionHandler<ApiExceptionHandler>();

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiCaller.KeyPolicy, p => p.RequireAuthenticatedUser())
            .AddPolicy(ApiCaller.AdminPolicy, p => p.RequireAuthenticatedUser().RequireClaim(ApiCaller.ScopeClaim, ApiKeyService.AdminScope));

        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy(RateLimitPolicy, http =>
            {
                var permits = http.RequestServices.GetRequiredService<IOptions<ApiOptions>>().Value.RateLimit.PermitsPerSecond;
                var partition = http.User.KeyId() is { } keyId ? "key:" + keyId.ToString("N") : "ip:" + http.Connection.RemoteIpAddress;
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = permits,
                    TokensPerPeriod = permits,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            o.OnRejected = async (context, _) =>
            {
                var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
                    : 1;
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await ApiProblems.WriteAsync(context.HttpContext, StatusCodes.Status429TooManyRequests, "rate_limited",
                    $"Too many requests for this API key: retry after {seconds} second(s).");
            };
        });

        services.AddOpenApi("v1", o =>
        {
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Satsub API",
                    Version = "v1",
                    Description = Description(),
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[ApiKeyAuthenticationHandler.SchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "An API key (`sk_…`) from `satsub apikey create` or `POST /api/v1/admin/api-keys`.",
                };
                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any())
                {
                    operation.Security =
                    [
                        new OpenApiSecurityRequirement
                        {
                            [new OpenApiSecuritySchemeReference(ApiKeyAuthenticationHandler.SchemeName, context.Document)] = [],
                        },
                    ];
                }
                if (metadata.OfType<IdempotentAttribute>().Any())
                {
                    operation.Parameters ??= [];
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = IdempotencyMiddleware.Header,
                        In = ParameterLocation.Header,
                        Required = false,
                        Description = "Any unique string (1-255 printable ASCII): the same key and body return the first answer; the same key with another body is 422.",
                        Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 },
                    });
                }
                return Task.CompletedTask;
            });
        });
        return builder;
    }

    public static void Configure(JsonSerializerOptions json)
    {
        json.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        json.NumberHandling = JsonNumberHandling.Strict;
        json.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        json.Converters.Add(new UtcMicrosecondsJsonConverter());
    }

    public static WebApplication MapSatsubApi(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
        app.UseMiddleware<IdempotencyMiddleware>();

        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference("/docs", o => o.WithTitle("Satsub API").WithOpenApiRoutePattern("/openapi/{documentName}.json"));

        var api = app.MapGroup("/api/v1").RequireRateLimiting(RateLimitPolicy);
        api.MapUsersApi();
        api.MapSubscriptionsApi();
        api.MapGenericWebhookApi();
        api.MapAdminApi();
        api.MapPlansAdminApi();
        api.MapApiKeysApi();
        api.MapPayoutsApi();
        return app;
    }

    private static string Description()
    {
        var sb = new StringBuilder();
        sb.AppendLine("Register users with their referrer, sell subscriptions paid in bitcoin, and read affiliates' balances.");
        sb.AppendLine();
        sb.AppendLine("Authenticate with `Authorization: Bearer <API key>`. An `admin` key sees everything; a platform key (such as `website`) creates and reads only users of its platform.");
        sb.AppendLine("JSON is snake_case; ids are strings; amounts are integer satoshis in fields ending `_sats`.");
        sb.AppendLine("Every error is `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail`, a stable `code` and, for field validation, `errors`.");
        sb.AppendLine("Each API key may make `Api:RateLimit:PermitsPerSecond` requests per second (100 by default); beyond that the answer is 429 with `Retry-After`.");
        sb.AppendLine();
        sb.AppendLine("| code | status | meaning |");
        sb.AppendLine("| --- | --- | --- |");
        foreach (var (code, status, meaning) in ApiProblems.Codes) sb.AppendLine($"| `{code}` | {status} | {meaning} |");
        return sb.ToString();
    }
}
