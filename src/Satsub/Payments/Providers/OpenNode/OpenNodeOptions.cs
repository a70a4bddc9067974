using System.Globalization;
using Microsoft.Extensions.Options;

namespace Satsub.Payments.Providers.OpenNode;

/// <summary>Settings of the <c>opennode</c> provider (section <c>Payments:OpenNode</c>).</summary>
public sealed class OpenNodeOptions
{
    public const string Section = "Payments:OpenNode";

    /// <summary><c>https://api.opennode.com</c>, or <c>https://dev-api.opennode.com</c> for the testnet environment.</summary>
    public string? Url { get; set; }

    /// <summary>An API key with the Invoices permission. It also keys the HMAC of every webhook (<c>hashed_order</c>).</summary>
    public string? ApiKey { get; set; }

    /// <summary>Where OpenNode posts charge events: <c>https://&lt;host&gt;/api/v1/webhooks/opennode</c>.</summary>
    public string? CallbackUrl { get; set; }

    /// <summary>Time-out of one call to OpenNode.</summary>
    public int TimeoutSeconds { get; set; } = 10;
}

internal sealed class OpenNodeOptionsValidator : IValidateOptions<OpenNodeOptions>
{
    public ValidateOptionsResult Validate(string? name, OpenNodeOptions o)
    {
        var failures = new List<string>();
        ProviderUrls.Check(failures, "Payments:OpenNode:Url", o.Url, "opennode", "the API's root, such as https://api.opennode.com or https://dev-api.opennode.com");
        if (string.IsNullOrWhiteSpace(o.ApiKey))
            failures.Add("Payments:OpenNode:ApiKey is required when the opennode provider is selected: an API key with the Invoices permission.");
        else if (o.ApiKey.Trim() != o.ApiKey || o.ApiKey.Any(char.IsControl))
            failures.Add("Payments:OpenNode:ApiKey must not have surrounding spaces or control characters.");
        ProviderUrls.Check(failures, "Payments:OpenNode:CallbackUrl", o.CallbackUrl, "opennode");
        if (o.TimeoutSeconds is < 1 or > 120)
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"Payments:OpenNode:TimeoutSeconds must be between 1 and 120 (was {o.TimeoutSeconds})."));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
