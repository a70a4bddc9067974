using System.Diagnostics;
using Microsoft.Extensions.Logging.Console;

namespace Satsub.Operations;

/// <summary>
/// Console logs as one JSON object per line (with scopes, so every line of a request carries its
/// <c>RequestId</c>), or the human-readable simple format. <c>Logging:Format</c> = <c>json</c> | <c>simple</c>;
/// the default is json in Production and simple elsewhere.
/// </summary>
public static class LoggingModule
{
    public const string FormatKey = "Logging:Format";
    public const string RequestIdHeader = "X-Request-Id";

    public static IHostApplicationBuilder AddSatsubLogging(this IHostApplicationBuilder builder)
    {
        var format = builder.Configuration[FormatKey]?.Trim().ToLowerInvariant();
        format ??= builder.Environment.IsProduction() ? "json" : "simple";
        if (format is not ("json" or "simple"))
            throw new Microsoft.Extensions.Options.OptionsValidationException(FormatKey, typeof(string),
                [$"{FormatKey} must be 'json' or 'simple' (was '{builder.Configuration[FormatKey]}')."]);
        if (format == "json")
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.IncludeScopes = true;
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
        return builder;
    }

    /// <summary>
    /// Gives each request an id: a sane incoming <c>X-Request-Id</c> (a proxy's), otherwise the W3C trace id.
    /// It becomes <see cref="HttpContext.TraceIdentifier"/> (so problem details carry it), a logging scope and
    /// the response's <c>X-Request-Id</c>.
    /// </summary>
    public static WebApplication UseRequestId(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Satsub.Requests");
        app.Use(async (http, next) =>
        {
            var incoming = http.Request.Headers[RequestIdHeader].ToString();
            var id = IsSane(incoming) ? incoming : Activity.Current?.TraceId.ToHexString() ?? http.TraceIdentifier;
            http.TraceIdentifier = id;
            http.Response.Headers[RequestIdHeader] = id;
            using (logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = id }))
            {
                await next(http);
            }
        });
        return app;
    }

    /// <summary>1–64 characters of letters, digits, '-', '_', '.' or ':' — nothing that could forge a log line or a header.</summary>
    public static bool IsSane(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');
}
