namespace Satsub.Integrations.Webhooks;

/// <summary>The <c>Integrations</c> section.</summary>
public sealed class IntegrationsOptions
{
    public const string Section = "Integrations";

    /// <summary>
    /// Lets webhook endpoints (and their deliveries) reach private, loopback and link-local addresses, and plain
    /// http. Off by default: a webhook URL must not become a way into the server's own network (SSRF).
    /// </summary>
    public bool AllowPrivateTargets { get; set; }
}
