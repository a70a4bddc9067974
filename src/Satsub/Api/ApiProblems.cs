using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace Satsub.Api;

/// <summary>
/// RFC 9457 problem details with a stable <c>code</c>. The <c>type</c> is <c>urn:satsub:problem:{code}</c>;
/// docs/api.md and the OpenAPI document list every code.
/// </summary>
public static class ApiProblems
{
    public const string TypePrefix = "urn:satsub:problem:";

    /// <summary>Every code the API answers with, and what it means (for the OpenAPI document and docs/api.md).</summary>
    public static readonly IReadOnlyList<(string Code, int Status, string Meaning)> Codes =
    [
        ("validation_failed", 400, "A field is missing or malformed; `errors` names each field."),
        ("invalid_json", 400, "The body is not JSON of the expected shape (a wrong type, a number out of range…); `errors` names the JSON path."),
        ("bad_request", 400, "The request is malformed in another way (a query parameter, a header)."),
        ("invalid_platform", 400, "`platform` is not 2-32 characters of a-z, 0-9, '_' and '-'."),
        ("external_id_required", 400, "Users on telegram and discord are identified by `external_id`."),
        ("username_required", 400, "Users on platforms without external ids (website…) are identified by `username`."),
        ("invalid_scopes", 400, "An API key's scopes are `admin` or platform names."),
        ("invalid_name", 400, "An API key's name is 1-100 characters."),
        ("invalid_idempotency_key", 400, "`Idempotency-Key` is 1-255 printable ASCII characters."),
        ("unauthorized", 401, "No API key, or an unknown, revoked or malformed one (they all look alike)."),
        ("invalid_signature", 401, "A webhook's signature is missing or wrong."),
        ("forbidden", 403, "The key's scopes do not allow this (an admin route, or another platform's users)."),
        ("not_found", 404, "No such resource, or not visible to this key."),
        ("user_not_found", 404, "No such user (or the user belongs to another platform than the key's)."),
        ("subscription_not_found", 404, "No such subscription."),
        ("invoice_not_found", 404, "No such invoice."),
        ("plan_not_found", 404, "No such plan."),
        ("api_key_not_found", 404, "No such API key."),
        ("payout_not_found", 404, "No such payout (or it belongs to another platform's user)."),
        ("commission_not_found", 404, "No such commission."),
        ("flag_not_found", 404, "No such admin flag."),
        ("method_not_allowed", 405, "The path exists but not with this method."),
        ("username_taken", 409, "The username is already registered on that platform."),
        ("plan_exists", 409, "A plan with that code exists."),
        ("plan_from_configuration", 409, "The plan is defined in configuration, which wins at every start: edit the configuration."),
        ("insufficient_balance", 409, "The payout asks for more than the affiliate's available balance."),
        ("daily_cap_reached", 409, "Payouts today would exceed `Payouts:DailyCapSats`, the hot wallet's daily exposure."),
        ("destination_used", 409, "That BOLT11 invoice was already used for another payout."),
        ("invalid_payout_state", 409, "The payout is not in a state that allows this action."),
        ("invoice_not_settled", 409, "Only a settled invoice can be refunded."),
        ("commission_not_held", 409, "Only a commission held for review can be released or reversed."),
        ("too_few_paying_referrals", 409, "The first payout needs `Affiliate:MinPayingReferralsForPayout` distinct paying referred customers."),
        ("idempotency_in_progress", 409, "A request with the same Idempotency-Key is still being processed."),
        ("payload_too_large", 413, "The body is too large."),
        ("unsupported_media_type", 415, "Send `Content-Type: application/json`."),
        ("unknown_referrer", 422, "`referral_id` names no user (give a user id or a referral code)."),
        ("unknown_plan", 422, "No active plan with that `subscription_type`."),
        ("unknown_user", 422, "The user named in the body does not exist."),
        ("amount_mismatch", 422, "The amount differs from the plan's price: prices come from the server."),
        ("invalid_btc_address", 422, "`btc_address` is not a valid address on the configured Bitcoin network."),
        ("not_sandbox_invoice", 422, "Only sandbox invoices can be settled by the admin endpoint."),
        ("transaction_mismatch", 422, "A generic payment's transaction_id was delivered before with another user, plan or amount."),
        ("idempotency_key_reused", 422, "The Idempotency-Key was used before with a different request."),
        ("below_minimum", 422, "The payout is below the minimum for its destination type."),
        ("invalid_destination", 422, "Not a Lightning Address, a BOLT11 invoice for exactly the amount, or an address on the configured network."),
        ("destination_required", 422, "No destination given and none saved."),
        ("destination_unsupported", 422, "The payout provider cannot pay this kind of destination."),
        ("invalid_amount", 422, "The payout amount is not a positive number of sats."),
        ("invalid_reference", 422, "A transaction id or payment hash is 64 hexadecimal digits (and belongs to one payout only)."),
        ("invalid_fee", 422, "The fee is at least 0 and less than the payout."),
        ("rate_limited", 429, "Too many requests for this key: wait `Retry-After` seconds."),
        ("internal_error", 500, "An unexpected error; nothing about it is disclosed. Retrying is safe with an Idempotency-Key."),
        ("payment_provider_unavailable", 503, "The payment provider could not be reached; nothing was created."),
        ("fiat_rate_unavailable", 503, "The plan is priced in fiat and no rate source is available."),
        ("busy", 503, "The request kept conflicting with concurrent changes and was not applied; retry it (Retry-After)."),
        ("database_unavailable", 503, "The database cannot be reached."),
        ("service_unavailable", 503, "The service cannot answer now."),
    ];

    public static string TypeOf(string code) => TypePrefix + code;

    public static string Title(int status) => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error";

    /// <summary>The default code for a status when nothing more precise is known.</summary>
    public static string DefaultCode(int status) => status switch
    {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "rate_limited",
        503 => "service_unavailable",
        >= 500 => "internal_error",
        _ => "error",
    };

    public static ProblemDetails Details(int status, string code, string detail) => new()
    {
        Status = status,
        Type = TypeOf(code),
        Title = Title(status),
        Detail = detail,
        Extensions = { ["code"] = code },
    };

    public static ProblemHttpResult Problem(int status, string code, string detail) =>
        TypedResults.Problem(Details(status, code, detail));

    public static ProblemHttpResult NotFound(string code, string detail) => Problem(StatusCodes.Status404NotFound, code, detail);

    public static ValidationProblem Validation(IDictionary<string, string[]> errors, string? detail = null) =>
        TypedResults.ValidationProblem(errors,
            detail: detail ?? "One or more fields are invalid: see errors.",
            title: Title(400),
            type: TypeOf("validation_failed"),
            extensions: new Dictionary<string, object?> { ["code"] = "validation_failed" });

    /// <summary>A body that is not JSON of the expected shape; <paramref name="path"/> is the JSON path where reading failed.</summary>
    public static HttpValidationProblemDetails InvalidJsonDetails(string? path) =>
        new(new Dictionary<string, string[]> { [path is { Length: > 0 } p ? p : "$"] = ["The value is not valid JSON of the expected type."] })
        {
            Status = 400,
            Type = TypeOf("invalid_json"),
            Title = Title(400),
            Detail = "The request body is not valid JSON of the expected shape.",
            Extensions = { ["code"] = "invalid_json" },
        };

    public static ProblemHttpResult InvalidJson(string? path) => TypedResults.Problem(InvalidJsonDetails(path));

    /// <summary>Fills in <c>type</c>, <c>title</c> and <c>code</c> on every problem the app writes (404s of unknown routes included).</summary>
    public static void Customize(ProblemDetailsContext context)
    {
        var pd = context.ProblemDetails;
        var status = pd.Status ?? context.HttpContext.Response.StatusCode;
        pd.Status = status;
        if (!pd.Extensions.TryGetValue("code", out var code) || code is not string)
        {
            code = DefaultCode(status);
            pd.Extensions["code"] = code;
        }
        if (pd.Type is null || !pd.Type.StartsWith(TypePrefix, StringComparison.Ordinal)) pd.Type = TypeOf((string)code);
        pd.Title ??= Title(status);
        pd.Detail ??= pd.Title;
        pd.Extensions.Remove("exception");
        if (pd.Extensions.Remove("traceId", out var trace)) pd.Extensions["trace_id"] = trace;
        else pd.Extensions["trace_id"] = System.Diagnostics.Activity.Current?.Id ?? context.HttpContext.TraceIdentifier;
    }

    /// <summary>Writes a problem directly (middleware: authentication, rate limiting, idempotency, webhooks).</summary>
    public static async Task WriteAsync(HttpContext http, int status, string code, string detail)
    {
        http.Response.StatusCode = status;
        var service = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await service.WriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = Details(status, code, detail) });
    }
}
