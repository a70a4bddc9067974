using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Satsub.Common;
using Satsub.Data;
using Satsub.Settlement;

namespace Satsub.Api;

/// <summary>
/// Turns every exception into problem details: refusals by the rules keep their code and status, malformed
/// input is a 400, an unreachable database a 503, and anything else a 500 that discloses nothing.
/// </summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (http.Response.HasStarted) return false;
        ProblemDetails details;
        switch (exception)
        {
            case DomainException d:
                details = ApiProblems.Details(d.Status, d.Code, d.Message);
                break;
            case BadHttpRequestException { InnerException: JsonException json }:
                details = ApiProblems.InvalidJsonDetails(json.Path);
                break;
            case BadHttpRequestException bad:
                var status = bad.StatusCode is >= 400 and < 500 ? bad.StatusCode : 400;
                details = ApiProblems.Details(status, ApiProblems.DefaultCode(status), status switch
                {
                    413 => "The request body is too large.",
                    415 => "Send the body as JSON with 'Content-Type: application/json'.",
                    _ when bad.Message.Contains("body", StringComparison.OrdinalIgnoreCase) => "The request needs a JSON body.",
                    _ => "The request is malformed: " + SafeMessage(bad.Message),
                });
                break;
            case UnknownInvoiceException:
                details = ApiProblems.Details(404, "invoice_not_found", "No such invoice.");
                break;
            case OperationCanceledException when http.RequestAborted.IsCancellationRequested:
                return true; // the client went away: nobody reads an answer
            case var e when DbErrors.IsUnavailable(e):
                logger.LogWarning("The database is unavailable: {Message}", e.Message);
                details = ApiProblems.Details(503, "database_unavailable", "The database cannot be reached; try again later.");
                http.Response.Headers.RetryAfter = "5";
                break;
            case var e when DbErrors.IsRetryableConflict(e):
                logger.LogWarning("Request gave up on a write conflict: {Message}", e.Message);
                details = ApiProblems.Details(503, "busy", "The request conflicted with concurrent changes; nothing was changed. Retry it.");
                http.Response.Headers.RetryAfter = "1";
                break;
            default:
                logger.LogError(exception, "Unhandled exception for {Method} {Path}", http.Request.Method, http.Request.Path);
                details = ApiProblems.Details(500, "internal_error", "An unexpected error occurred.");
                break;
        }
        http.Response.StatusCode = details.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = details });
    }

    // Binding messages name the parameter ("Required parameter \"CreateUserRequest body\" was not provided…"):
    // useful, and never a stack trace.
    private static string SafeMessage(string message) => message.Length > 300 ? message[..300] : message;
}
